"""The LOGGING setting: request ids on every line, never PHI or secrets."""

from __future__ import annotations

from typing import Any


def logging_config(*, level: str) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "audit.middleware.RequestIdLogFilter"},
            # An iCal feed URL carries its secret: masked wherever a path is logged.
            "feed_secrets": {"()": "scheduling.log_redaction.RedactFeedSecrets"},
        },
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "filters": ["request_id", "feed_secrets"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django logs the request path of every 4xx; paths carry only opaque ids.
            "django.request": {"level": "ERROR", "filters": ["feed_secrets"]},
            "django.server": {"filters": ["feed_secrets"]},
            # gunicorn's access log (config/stack.py turns it on) writes every request line:
            # through the console handler, so feed secrets are masked there too.
            "gunicorn.access": {"filters": ["feed_secrets"], "propagate": True},
            # The Stripe SDK logs request bodies (the customer's email) at DEBUG and INFO.
            "stripe": {"level": "WARNING"},
        },
    }
