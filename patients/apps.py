from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from notifications.directory import register_contact_directory
        from notifications.services import register_reply_handler
        from patients.selectors.record import PatientContactDirectory
        from patients.services.measurement import mood_reply_handle

        register_contact_directory(PatientContactDirectory())

        # A bare number 1-10 answering the check-in follow-up text is the patient's mood.
        register_reply_handler("patients.mood", mood_reply_handle)
