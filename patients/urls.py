from django.urls import path

from patients import api
from patients.api import (
    assessment,
    consent,
    intake,
    measurement,
    review_flags,
    review_intakes,
    review_queue,
)

urlpatterns = [
    path("patients", api.PatientListView.as_view(), name="patient-list"),
    path("patients/me", api.MyRecordView.as_view(), name="patient-me"),
    path("patients/<uuid:public_id>", api.PatientDetailView.as_view(), name="patient-detail"),
    *assessment.urlpatterns,
    *consent.urlpatterns,
    *intake.urlpatterns,
    *review_queue.urlpatterns,
    *review_intakes.urlpatterns,
    *review_flags.urlpatterns,
    *measurement.urlpatterns,
]
