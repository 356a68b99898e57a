from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app uses; no models. Installed for its management commands."""

    name = "core"
