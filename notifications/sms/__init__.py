"""SMS backends, chosen by dotted path in settings.SMS_BACKEND (like EMAIL_BACKEND)."""

from __future__ import annotations

import functools

from django.conf import settings
from django.utils.module_loading import import_string

from notifications.sms.base import SmsBackend


@functools.cache
def _backend_class(path: str) -> type[SmsBackend]:
    return import_string(path)


def get_sms_backend() -> SmsBackend:
    return _backend_class(settings.SMS_BACKEND)()
