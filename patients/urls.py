from django.urls import path

from patients.api import (
    assessment,
    consent,
    intake,
    measurement,
    phone,
    record,
    review_flags,
    review_intakes,
    review_queue,
)

urlpatterns = [
    path("patients", record.PatientListView.as_view(), name="patient-list"),
    path("patients/me", record.MyRecordView.as_view(), name="patient-me"),
    path("patients/<uuid:public_id>", record.PatientDetailView.as_view(), name="patient-detail"),
    *phone.urlpatterns,
    *assessment.urlpatterns,
    *consent.urlpatterns,
    *intake.urlpatterns,
    *review_queue.urlpatterns,
    *review_intakes.urlpatterns,
    *review_flags.urlpatterns,
    *measurement.urlpatterns,
]
