"""The LOGGING setting: request ids on every line, never PHI."""

from __future__ import annotations

from typing import Any


def logging_config(*, level: str) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "audit.middleware.RequestIdLogFilter"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django logs the request path of every 4xx; paths carry only opaque ids.
            "django.request": {"level": "ERROR"},
            # The Stripe SDK logs request bodies (the customer's email) at DEBUG and INFO.
            "stripe": {"level": "WARNING"},
        },
    }
