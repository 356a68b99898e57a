"""Settings, all from the environment (see README.md for every variable)."""

from __future__ import annotations

import base64
import hashlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

from config.beat import beat_schedule
from config.logs import logging_config
from config.production import (
    DEV_SECRET_KEY,
    production_hardening,
    production_problems,
    refusal_message,
)

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False)

# "development" (the embedded default) or "production".
APP_ENV = env.str("APP_ENV", default="development")
PRODUCTION = APP_ENV == "production"
DEBUG = env.bool("DEBUG", default=False)
# Unsafe production settings are refused together at the end of this module (see
# config/production.py for the list).

SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)

# PHI encryption at rest: Fernet keys, newest first. Development derives one from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
LOOKUP_HASH_KEY = env.str("LOOKUP_HASH_KEY", default="")
if not FIELD_ENCRYPTION_KEYS:
    _digest = hashlib.sha256(f"fernet:{SECRET_KEY}".encode()).digest()
    FIELD_ENCRYPTION_KEYS = [base64.urlsafe_b64encode(_digest).decode()]
LOOKUP_HASH_KEY = LOOKUP_HASH_KEY or f"lookup:{SECRET_KEY}"
# Key of the audit hash chain: keep it outside the database (and away from its admins).
AUDIT_CHAIN_KEY = env.str("AUDIT_CHAIN_KEY", default="")
AUDIT_CHAIN_KEY = AUDIT_CHAIN_KEY or f"audit-chain:{SECRET_KEY}"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# How many reverse proxies we sit behind (X-Forwarded-For hops to trust for the client IP).
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
# Where links in messages point: the patient-facing app.
PUBLIC_APP_URL = env.str("PUBLIC_APP_URL", default="http://127.0.0.1:8000/app")
# The name in every text and email: free of drug or condition words (lock screens); the
# notifications app refuses to start otherwise (notifications.templates).
PRACTICE_NAME = env.str("PRACTICE_NAME", default="Evergreen Health")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "accounts",
    "audit",
    "notifications",
    "patients",
    "billing",
    "scheduling",
    "prescriptions",
    "demo",
]

MIDDLEWARE = [
    "audit.middleware.RequestContextMiddleware",
    "core.middleware.ApiNoStoreMiddleware",
    "core.http.RequestGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.LazyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# Embedded defaults match `config.embedded` (ports 54329 and 63799 on loopback).
DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:54329/telehealth")
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
# Off by default: a `SELECT 1` before every request costs more than the one failed request
# it would save after a database failover (the client retries).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=False)
# Server-side parameter binding with prepared statements: cheaper per query. Behind
# PgBouncer in transaction mode (older than 1.21) set DB_SERVER_SIDE_BINDING=false.
if env.bool("DB_SERVER_SIDE_BINDING", default=True):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "server_side_binding": True,
            "prepare_threshold": env.int("DB_PREPARE_THRESHOLD", default=5),
        }
    )
if env.str("TEST_DATABASE_URL", default=""):
    DATABASES["default"]["TEST"] = {"NAME": env.db_url("TEST_DATABASE_URL")["NAME"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:63799/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="th"),
    }
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
# User.email is encrypted (no index can be unique over ciphertext); the unique keyed hash
# `email_hash` of the normalized address enforces one account per address instead, and
# get_by_natural_key looks it up. Django's check only knows unique columns named like
# USERNAME_FIELD (tests/accounts/test_email_at_rest.py holds the uniqueness).
SILENCED_SYSTEM_CHECKS = ["auth.E003"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Tokens and sessions (HIPAA automatic logoff: staff idle timeout).
ACCESS_TOKEN_TTL = timedelta(seconds=env.int("ACCESS_TOKEN_TTL_SECONDS", default=15 * 60))
REFRESH_TOKEN_TTL = timedelta(seconds=env.int("REFRESH_TOKEN_TTL_SECONDS", default=14 * 86400))
STAFF_IDLE_TIMEOUT = timedelta(seconds=env.int("STAFF_IDLE_TIMEOUT_SECONDS", default=15 * 60))
# last_seen_at is written at most this often per session, to keep reads cheap.
SESSION_TOUCH_INTERVAL = timedelta(seconds=env.int("SESSION_TOUCH_INTERVAL_SECONDS", default=60))
LOGIN_FAILURE_WINDOW = timedelta(seconds=env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=15 * 60))
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=5)
LOGIN_FAILURES_PER_IP = env.int("LOGIN_FAILURES_PER_IP", default=20)
MFA_ISSUER = env.str("MFA_ISSUER", default=PRACTICE_NAME)
MFA_RECOVERY_CODE_COUNT = 10
# Issue 12 (sessions, lockout, staff MFA enrollment). A session ends this long after sign-in
# whatever its refreshes, by the user's current role.
SESSION_ABSOLUTE_TTL_STAFF = timedelta(
    seconds=env.int("SESSION_ABSOLUTE_TTL_STAFF_SECONDS", default=12 * 3600)
)
SESSION_ABSOLUTE_TTL_PATIENT = timedelta(
    seconds=env.int("SESSION_ABSOLUTE_TTL_PATIENT_SECONDS", default=30 * 86400)
)
# Past this many failed sign-ins to one account (from all IPs together), each IP waits a
# growing delay (doubling, at most LOGIN_SLOWDOWN_MAX_SECONDS) between its attempts on that
# account: slowed, never locked, so failures from elsewhere cannot keep the owner out.
LOGIN_ACCOUNT_SOFT_CAP = env.int("LOGIN_ACCOUNT_SOFT_CAP", default=20)
LOGIN_SLOWDOWN_MAX_SECONDS = env.int("LOGIN_SLOWDOWN_MAX_SECONDS", default=60)
MFA_ENROLLMENT_TOKEN_TTL = timedelta(
    seconds=env.int("MFA_ENROLLMENT_TOKEN_TTL_SECONDS", default=24 * 3600)
)
# Issue 12 (registration, email ownership, passwords). The emailed verification link lasts
# this long; a password reset link 30 minutes (Django's own setting, single use because it
# signs the password hash). Both reset endpoints share one rate per client IP.
EMAIL_VERIFICATION_MAX_AGE_SECONDS = env.int(
    "EMAIL_VERIFICATION_MAX_AGE_SECONDS", default=48 * 3600
)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_SECONDS", default=30 * 60)
THROTTLE_PASSWORD_RESET = env.str("THROTTLE_PASSWORD_RESET", default="5/hour")

# Django admin (ops admins): cookie session that ends after 15 minutes idle.
SESSION_COOKIE_AGE = int(STAFF_IDLE_TIMEOUT.total_seconds())
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# The practice's own calendar (license expiry, "today" for ages): Eastern, where both
# states mostly are; the Florida panhandle's Central hour is on the safe side.
PRACTICE_TIME_ZONE = env.str("PRACTICE_TIME_ZONE", default="America/New_York")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Bodies larger than this are refused with 413 before any parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BODY_BYTES", default=256 * 1024)

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.IsAuthenticatedWithMfa"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["core.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.negotiation.ContentNegotiation",
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    # Throttles key on the client IP: trust X-Forwarded-For only as far as our own proxies.
    "NUM_PROXIES": NUM_PROXIES,
    # Per signed-in user on every endpoint (per IP for anonymous ones without their own).
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="60/min"),
        "user": env.str("THROTTLE_USER", default="600/min"),
        # Shared by the billing endpoints that call the payment gateway.
        "payments": env.str("THROTTLE_USER_PAYMENTS", default="30/min"),
        "register": env.str("THROTTLE_REGISTER", default="10/hour"),
        "assessment": env.str("THROTTLE_ASSESSMENT", default="20/hour"),
        "password_reset": THROTTLE_PASSWORD_RESET,
        # Each send is a paid text to a number not yet proven to be the caller's.
        "phone_verify": env.str("THROTTLE_PHONE_VERIFY", default="5/hour"),
        # Per iCal feed secret: calendar apps poll every 15 minutes to a few hours.
        "ical_feed": env.str("THROTTLE_ICAL_FEED", default="30/hour"),
    },
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SPECTACULAR_SETTINGS = {
    "TITLE": f"{PRACTICE_NAME} API",
    "DESCRIPTION": "Practice-management API: accounts, intake, membership, check-ins, "
    "prescriptions and deliveries. Authenticate with `Authorization: Bearer <access token>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from our own static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Security requirements come from each view's authenticators (accounts.authentication
    # BearerTokenScheme): an endpoint that reads no token does not claim one.
    # PATCH bodies are validated whole (no partial updates): document what they require.
    "COMPONENT_SPLIT_PATCH": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.document_implicit_errors",
    ],
    # Several apps have a "status"; name each set of values after its model.
    "ENUM_NAME_OVERRIDES": {
        "MessageStatusEnum": "notifications.models.MessageStatus",
        "IntakeStatusEnum": "patients.models.IntakeStatus.values",
        "AppointmentKindEnum": "scheduling.models.AppointmentKind.values",
        "AppointmentStatusEnum": "scheduling.models.AppointmentStatus.values",
        "OrderStatusEnum": "prescriptions.models.OrderStatus.values",
        "OrderKindEnum": "prescriptions.models.OrderKind.values",
        "PrescriptionStatusEnum": "prescriptions.models.PrescriptionStatus.values",
    },
}

# Messages (notifications app). Backends by dotted path, like EMAIL_BACKEND.
SMS_BACKEND = env.str("SMS_BACKEND", default="notifications.sms.console.ConsoleSmsBackend")
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="care@practice.example")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
# One of the two: a Messaging Service (preferred: pools numbers, handles STOP) or a number.
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
# Only for tests and local stand-ins; production leaves it empty (the SDK's own host).
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="")
TWILIO_TIMEOUT_SECONDS = env.float("TWILIO_TIMEOUT_SECONDS", default=10.0)
PRACTICE_SUPPORT_PHONE = env.str("PRACTICE_SUPPORT_PHONE", default="+18005550100")
PRACTICE_SUPPORT_EMAIL = env.str("PRACTICE_SUPPORT_EMAIL", default="support@practice.example")
NOTIFY_DISPATCH_INTERVAL_SECONDS = env.float("NOTIFY_DISPATCH_INTERVAL_SECONDS", default=30.0)
NOTIFY_BATCH_SIZE = env.int("NOTIFY_BATCH_SIZE", default=200)
NOTIFY_CLAIM_TIMEOUT = timedelta(seconds=env.int("NOTIFY_CLAIM_TIMEOUT_SECONDS", default=300))
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=5)
NOTIFY_RETRY_BASE_SECONDS = env.int("NOTIFY_RETRY_BASE_SECONDS", default=60)
NOTIFY_QUIET_START_HOUR = env.int("NOTIFY_QUIET_START_HOUR", default=8)  # first hour allowed
NOTIFY_QUIET_END_HOUR = env.int("NOTIFY_QUIET_END_HOUR", default=20)  # first hour refused
NOTIFY_UNKNOWN_TZ_START_HOUR = env.int("NOTIFY_UNKNOWN_TZ_START_HOUR", default=9)
NOTIFY_DAILY_CAP = env.int("NOTIFY_DAILY_CAP", default=3)
# One dispatch run stops claiming after this; keep it below CELERY_TASK_SOFT_TIME_LIMIT.
NOTIFY_DISPATCH_TIME_BUDGET_SECONDS = env.float("NOTIFY_DISPATCH_TIME_BUDGET_SECONDS", default=40.0)
NOTIFY_UNREACHABLE_MAX_ATTEMPTS = env.int("NOTIFY_UNREACHABLE_MAX_ATTEMPTS", default=3)

# Billing. The membership plan: one price, in cents. BILLING_GATEWAY by dotted path; the
# local gateway (embedded default) needs no Stripe account and signs its webhooks like Stripe.
MEMBERSHIP_AMOUNT_CENTS = env.int("MEMBERSHIP_AMOUNT_CENTS", default=25000)
MEMBERSHIP_CURRENCY = env.str("MEMBERSHIP_CURRENCY", default="usd")
MEMBERSHIP_NAME = env.str("MEMBERSHIP_NAME", default="Monthly membership")
# Days a past_due membership keeps access before it counts as paused.
MEMBERSHIP_GRACE_DAYS = env.int("MEMBERSHIP_GRACE_DAYS", default=7)
# The dunning reminder goes this many days after a failed payment.
BILLING_REMINDER_DAYS = env.int("BILLING_REMINDER_DAYS", default=3)
# How long GET /api/billing/membership reuses the gateway's next-invoice preview.
BILLING_PREVIEW_CACHE_SECONDS = env.int("BILLING_PREVIEW_CACHE_SECONDS", default=300)
# Production defaults to Stripe: the local gateway's checkout accepts test cards for free.
BILLING_GATEWAY = env.str(
    "BILLING_GATEWAY",
    default="billing.gateways.stripe.StripeGateway"
    if PRODUCTION
    else "billing.gateways.local.LocalGateway",
)
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="whsec_local_development_only")
STRIPE_PRICE_ID = env.str("STRIPE_PRICE_ID", default="price_local_membership")
# Only for tests and local stand-ins; production leaves it empty (the SDK's own host).
STRIPE_API_BASE_URL = env.str("STRIPE_API_BASE_URL", default="")
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=20.0)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
if STRIPE_WEBHOOK_TOLERANCE_SECONDS <= 0:  # the SDK reads 0 as "no age check at all"
    raise ImproperlyConfigured("STRIPE_WEBHOOK_TOLERANCE_SECONDS must be positive.")

# Celery: JSON only, late acks, time limits; beat entries live here.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=90)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# PHQ-9 and GAD-7 are due this many days after the last one; clearance lapses after the grace.
QUESTIONNAIRE_INTERVAL_DAYS = env.int("QUESTIONNAIRE_INTERVAL_DAYS", default=28)
QUESTIONNAIRE_GRACE_DAYS = env.int("QUESTIONNAIRE_GRACE_DAYS", default=7)
# The same answers to the same questionnaire within this window are one submission.
QUESTIONNAIRE_DEDUPE_SECONDS = env.int("QUESTIONNAIRE_DEDUPE_SECONDS", default=60)

# Scheduling (issue 10). Visit lengths per appointment kind, in minutes.
APPOINTMENT_MINUTES = {
    "consultation": env.int("APPOINTMENT_CONSULTATION_MINUTES", default=30),
    "check_in": env.int("APPOINTMENT_CHECK_IN_MINUTES", default=20),
    "follow_up": env.int("APPOINTMENT_FOLLOW_UP_MINUTES", default=15),
}
SCHEDULING_SLOT_STEP_MINUTES = env.int("SCHEDULING_SLOT_STEP_MINUTES", default=15)
SCHEDULING_MIN_NOTICE = timedelta(hours=env.int("SCHEDULING_MIN_NOTICE_HOURS", default=2))
SCHEDULING_HORIZON_DAYS = env.int("SCHEDULING_HORIZON_DAYS", default=60)
# A slot search's physician side is kept this long (scheduling.selectors.slot_cache).
SLOT_SEARCH_CACHE_SECONDS = env.int("SLOT_SEARCH_CACHE_SECONDS", default=10)
# Patients change or cancel up to this long before; later is a late cancellation.
SCHEDULING_PATIENT_CHANGE_CUTOFF = timedelta(
    hours=env.int("SCHEDULING_PATIENT_CHANGE_CUTOFF_HOURS", default=12)
)
CHECK_IN_INTERVAL_DAYS = env.int("CHECK_IN_INTERVAL_DAYS", default=28)
# A visit never started is a no-show this long after its end.
SCHEDULING_NO_SHOW_AFTER = timedelta(
    minutes=env.int("SCHEDULING_NO_SHOW_AFTER_MINUTES", default=30)
)
# The post-check-in "how are you feeling" text: the next day at this hour, patient's zone.
FOLLOW_UP_HOUR = env.int("FOLLOW_UP_HOUR", default=10)
VIDEO_BACKEND = env.str("VIDEO_BACKEND", default="scheduling.video.embedded.EmbeddedVideoBackend")
VIDEO_ROOM_OPENS_BEFORE = timedelta(minutes=env.int("VIDEO_ROOM_OPENS_MINUTES_BEFORE", default=10))
VIDEO_ROOM_CLOSES_AFTER = timedelta(minutes=env.int("VIDEO_ROOM_CLOSES_MINUTES_AFTER", default=30))
# The embedded backend's room URL; {room} is an unguessable name.
VIDEO_ROOM_URL_TEMPLATE = env.str(
    "VIDEO_ROOM_URL_TEMPLATE", default="http://127.0.0.1:8000/video/{room}"
)
DAILY_API_KEY = env.str("DAILY_API_KEY", default="")
# Tests point the Daily backend at a local server; production leaves it at Daily's.
DAILY_API_BASE_URL = env.str("DAILY_API_BASE_URL", default="https://api.daily.co/v1")
DAILY_TIMEOUT_SECONDS = env.float("DAILY_TIMEOUT_SECONDS", default=10.0)

# Prescriptions (issue 11). A prescription needs a completed video visit this recent.
PRESCRIBING_VISIT_MAX_AGE_DAYS = env.int("PRESCRIBING_VISIT_MAX_AGE_DAYS", default=30)
# The DEA's temporary telemedicine rule: after this date, only with an in-person evaluation.
TELEMEDICINE_RULE_ENDS_ON = date.fromisoformat(
    env.str("TELEMEDICINE_RULE_ENDS_ON", default="2026-12-31")
)
# A refill is early before the last fill plus this fraction of its days' supply.
REFILL_EARLIEST_FRACTION = env.float("REFILL_EARLIEST_FRACTION", default=0.75)
PHARMACY_BACKEND = env.str("PHARMACY_BACKEND", default="prescriptions.pharmacy.local.LocalPharmacy")
PHARMACY_TIMEOUT_SECONDS = env.float("PHARMACY_TIMEOUT_SECONDS", default=10.0)
LOCAL_PHARMACY_STEP_SECONDS = env.int("LOCAL_PHARMACY_STEP_SECONDS", default=60)  # demo pace
# Signed webhooks older (or newer) than this are refused, like Stripe's scheme.
DELIVERY_WEBHOOK_TOLERANCE_SECONDS = env.int("DELIVERY_WEBHOOK_TOLERANCE_SECONDS", default=300)
# Overdue: not shipped this many business days after reaching the pharmacy, or not
# delivered this many days after shipping.
DELIVERY_SHIP_WITHIN_BUSINESS_DAYS = env.int("DELIVERY_SHIP_WITHIN_BUSINESS_DAYS", default=2)
DELIVERY_DELIVER_WITHIN_DAYS = env.int("DELIVERY_DELIVER_WITHIN_DAYS", default=5)

# Every periodic task, with its interval from the environment (config/beat.py); the local
# gateway's and the local pharmacy's only with those backends.
CELERY_BEAT_SCHEDULE = beat_schedule(
    env,
    dispatch_interval=NOTIFY_DISPATCH_INTERVAL_SECONDS,
    local_gateway=BILLING_GATEWAY.endswith(".local.LocalGateway"),
    local_pharmacy=PHARMACY_BACKEND.endswith(".local.LocalPharmacy"),
)

# See audit.services._read_may_commit_async for the trade-off.
AUDIT_READS_ASYNC_COMMIT = env.bool("AUDIT_READS_ASYNC_COMMIT", default=True)
AUDIT_SEAL_BATCH_SIZE = env.int("AUDIT_SEAL_BATCH_SIZE", default=5000)
# Heads published by the anchor task (SEQ:HASH) that the daily audit_verify also checks.
AUDIT_VERIFY_ANCHORS = env.list("AUDIT_VERIFY_ANCHORS", default=[])

if PRODUCTION and (_problems := production_problems(globals(), env.ENVIRON)):
    raise ImproperlyConfigured(refusal_message(_problems))

# Production hardening (HTTPS only, HSTS, headers); `manage.py check --deploy` passes.
if PRODUCTION:
    globals().update(production_hardening(env))

# Request ids on every line, no request paths of 4xx, no SDK request bodies.
LOGGING = logging_config(level=env.str("LOG_LEVEL", default="INFO"))
