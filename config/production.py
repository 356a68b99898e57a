"""What `APP_ENV=production` refuses to start with (one line per refusal in REFUSALS),
and the HTTPS settings it turns on.

config/settings.py calls production_problems() once, at its end, with its own namespace
and the environment, and raises ImproperlyConfigured naming every problem at once. The
checks are plain functions of those two mappings, so tests call them without starting a
process. README's "Production" section lists the same refusals: keep them in step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# The development SECRET_KEY default (public: it is in the repository).
DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production-0123456789"

Settings = Mapping[str, Any]
Environ = Mapping[str, str]
Check = Callable[[Settings, Environ], bool]  # True when the setting is refused


def _given(environ: Environ, name: str) -> bool:
    """Set in the environment (or .env) to something other than blanks."""
    return bool(environ.get(name, "").strip())


def _weak_secret_key(key: str) -> bool:
    return key == DEV_SECRET_KEY or len(key) < 50 or len(set(key)) < 5


def _not_https(url: str) -> bool:
    return not url.startswith("https://")


def _local_gateway(s: Settings) -> bool:
    return str(s["BILLING_GATEWAY"]).endswith(".local.LocalGateway")


def _stripe_gateway(s: Settings) -> bool:
    return str(s["BILLING_GATEWAY"]).endswith(".stripe.StripeGateway")


# (refused when, why): one line per refusal, in README's order.
# fmt: off
REFUSALS: list[tuple[Check, str]] = [
    (lambda s, e: bool(s["DEBUG"]), "DEBUG must be off."),
    (lambda s, e: _weak_secret_key(s["SECRET_KEY"]), "SECRET_KEY: at least 50 random characters."),
    (lambda s, e: not (_given(e, "FIELD_ENCRYPTION_KEYS") and _given(e, "LOOKUP_HASH_KEY")), "FIELD_ENCRYPTION_KEYS and LOOKUP_HASH_KEY are required."),  # noqa: E501
    (lambda s, e: len(e.get("AUDIT_CHAIN_KEY", "")) < 32, "AUDIT_CHAIN_KEY: at least 32 random characters."),  # noqa: E501
    (lambda s, e: "ALLOWED_HOSTS" not in e, "ALLOWED_HOSTS: the public host names."),
    (lambda s, e: "*" in s["ALLOWED_HOSTS"], "ALLOWED_HOSTS must not contain '*' (Host header attacks on links)."),  # noqa: E501
    # A wrong guess either lets clients forge their IP or makes every client the proxy.
    (lambda s, e: "NUM_PROXIES" not in e, "NUM_PROXIES must be set explicitly (0 when nothing is in front)."),  # noqa: E501
    # Twilio signs the exact public URL; links in messages must be https too.
    (lambda s, e: _not_https(s["PUBLIC_BASE_URL"]), "PUBLIC_BASE_URL: the public https:// URL."),
    (lambda s, e: _not_https(s["PUBLIC_APP_URL"]), "PUBLIC_APP_URL: the patient app's https:// URL (links in messages)."),  # noqa: E501
    (lambda s, e: _local_gateway(s), "BILLING_GATEWAY: the local gateway accepts test cards for free."),  # noqa: E501
    (lambda s, e: _stripe_gateway(s) and not s["STRIPE_SECRET_KEY"], "STRIPE_SECRET_KEY is required by the Stripe gateway."),  # noqa: E501
    # The development secret is public: anyone could sign a "payment succeeded".
    (lambda s, e: not s["STRIPE_WEBHOOK_SECRET"] or s["STRIPE_WEBHOOK_SECRET"].startswith("whsec_local"), "STRIPE_WEBHOOK_SECRET: the real signing secret, not the default."),  # noqa: E501
    (lambda s, e: bool(s["STRIPE_API_BASE_URL"]), "STRIPE_API_BASE_URL must be empty (tests and local stand-ins only)."),  # noqa: E501
    (lambda s, e: bool(s["TWILIO_API_BASE_URL"]), "TWILIO_API_BASE_URL must be empty (tests and local stand-ins only)."),  # noqa: E501
    (lambda s, e: ".console." in s["SMS_BACKEND"], "SMS_BACKEND: the console backend prints messages to the log."),  # noqa: E501
    (lambda s, e: ".console." in s["EMAIL_BACKEND"], "EMAIL_BACKEND: the console backend prints messages to the log."),  # noqa: E501
    (lambda s, e: s["PHARMACY_BACKEND"].endswith(".local.LocalPharmacy"), "PHARMACY_BACKEND: the local pharmacy fills no order."),  # noqa: E501
    (lambda s, e: s["VIDEO_BACKEND"].endswith(".embedded.EmbeddedVideoBackend"), "VIDEO_BACKEND: the embedded backend makes room links no video service hosts."),  # noqa: E501
    (lambda s, e: s["DAILY_API_BASE_URL"].rstrip("/") != "https://api.daily.co/v1", "DAILY_API_BASE_URL must be Daily's own (tests and local stand-ins only)."),  # noqa: E501
    (lambda s, e: s["VIDEO_BACKEND"].endswith(".daily.DailyVideoBackend") and not s["DAILY_API_KEY"], "DAILY_API_KEY is required by the Daily video backend."),  # noqa: E501
]
# fmt: on


def production_problems(settings: Settings, environ: Environ) -> list[str]:
    """Every refusal that applies to these settings (a settings module's namespace, or any
    mapping with the names REFUSALS reads) and this environment; empty when all is well."""
    return [message for refused, message in REFUSALS if refused(settings, environ)]


def production_hardening(env: Any) -> dict[str, Any]:
    """Django's HTTPS and header settings for production (`env`: the settings' environ.Env)."""
    return {
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
        "SECURE_SSL_REDIRECT": env.bool("SECURE_SSL_REDIRECT", default=True),
        "SECURE_HSTS_SECONDS": env.int("SECURE_HSTS_SECONDS", default=31536000),
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "X_FRAME_OPTIONS": "DENY",
    }


def refusal_message(problems: list[str]) -> str:
    return "APP_ENV=production refuses to start:\n" + "\n".join(f"- {p}" for p in problems)
