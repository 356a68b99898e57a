from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for `make run`; last in INSTALLED_APPS, so it may use every other app."""

    name = "demo"
