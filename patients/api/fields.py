"""Serializer fields shared by the patients API modules."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.phones import us_phone_e164


class UsPhoneField(serializers.CharField):
    default_error_messages = {"invalid_phone": "Enter a US phone number, e.g. (305) 555-0123."}

    def to_internal_value(self, data: Any) -> str:
        e164 = us_phone_e164(super().to_internal_value(data))
        if e164 is None:
            self.fail("invalid_phone")
        return e164
