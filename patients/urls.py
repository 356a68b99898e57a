from django.urls import path

from patients import api
from patients.api import assessment, consent, intake, measurement, review

urlpatterns = [
    path("patients", api.PatientListView.as_view(), name="patient-list"),
    path("patients/me", api.MyRecordView.as_view(), name="patient-me"),
    path("patients/<uuid:public_id>", api.PatientDetailView.as_view(), name="patient-detail"),
    *assessment.urlpatterns,
    *consent.urlpatterns,
    *intake.urlpatterns,
    *review.urlpatterns,
    *measurement.urlpatterns,
]
