"""Production mode refuses to start without real secrets and passes `check --deploy`."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from config.production import DEV_SECRET_KEY, REFUSALS, production_problems

ROOT = Path(__file__).resolve().parents[2]


# Every variable the production checks read: cleared from the inherited environment.
OURS = {
    "APP_ENV",
    "SECRET_KEY",
    "DEBUG",
    "FIELD_ENCRYPTION_KEYS",
    "LOOKUP_HASH_KEY",
    "AUDIT_CHAIN_KEY",
    "ALLOWED_HOSTS",
    "PUBLIC_BASE_URL",
    "PUBLIC_APP_URL",
    "NUM_PROXIES",
    "BILLING_GATEWAY",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE_URL",
    "TWILIO_API_BASE_URL",
    "DAILY_API_BASE_URL",
    "DAILY_API_KEY",
    "VIDEO_BACKEND",
    "PHARMACY_BACKEND",
    "SMS_BACKEND",
    "EMAIL_BACKEND",
    "PRACTICE_NAME",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in OURS}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(**changes: str | None) -> dict[str, str]:
    """A production environment that starts, with `changes` applied (None removes)."""
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "LOOKUP_HASH_KEY": "lookup-key",
        "AUDIT_CHAIN_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "api.practice.example",
        "PUBLIC_BASE_URL": "https://api.practice.example",
        "PUBLIC_APP_URL": "https://app.practice.example",
        "NUM_PROXIES": "1",
        "STRIPE_SECRET_KEY": "sk_live_example",
        "STRIPE_WEBHOOK_SECRET": "whsec_example",
        "SMS_BACKEND": "notifications.sms.twilio.TwilioSmsBackend",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "VIDEO_BACKEND": "scheduling.video.daily.DailyVideoBackend",
        "DAILY_API_KEY": "daily-key",
        "PHARMACY_BACKEND": "prescriptions.pharmacy.http.HttpPharmacy",
    }
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def test_production_refuses_the_development_secret_key():
    result = manage("check", APP_ENV="production")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_names_every_problem_at_once():
    result = manage("check", APP_ENV="production", DEBUG="true")
    assert result.returncode != 0
    for name in ("DEBUG", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "NUM_PROXIES", "SMS_BACKEND"):
        assert name in result.stderr


@pytest.mark.parametrize(
    "missing",
    [
        "SECRET_KEY",
        "FIELD_ENCRYPTION_KEYS",
        "AUDIT_CHAIN_KEY",
        "ALLOWED_HOSTS",
        "PUBLIC_BASE_URL",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "NUM_PROXIES",
    ],
)
def test_production_refuses_to_start_without_each_required_setting(missing):
    result = manage("check", **production_env(**{missing: None}))
    assert result.returncode != 0
    assert missing in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "true"),
        ("BILLING_GATEWAY", "billing.gateways.local.LocalGateway"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_local_development_only"),
        ("STRIPE_WEBHOOK_SECRET", ""),
        ("SMS_BACKEND", "notifications.sms.console.ConsoleSmsBackend"),
        ("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"),
        ("STRIPE_API_BASE_URL", "http://127.0.0.1:8420"),
        ("TWILIO_API_BASE_URL", "http://127.0.0.1:8421"),
        ("DAILY_API_BASE_URL", "http://127.0.0.1:8422/v1"),
        ("VIDEO_BACKEND", "scheduling.video.embedded.EmbeddedVideoBackend"),
        ("PHARMACY_BACKEND", "prescriptions.pharmacy.local.LocalPharmacy"),
        ("PUBLIC_APP_URL", "http://app.practice.example"),
        ("ALLOWED_HOSTS", "api.practice.example,*"),
    ],
)
def test_production_refuses_each_unsafe_setting(name, value):
    result = manage("check", **production_env(**{name: value}))
    assert result.returncode != 0
    assert name in result.stderr
    assert "refuses to start" in result.stderr


def test_production_refuses_the_daily_video_backend_without_its_api_key():
    daily = "scheduling.video.daily.DailyVideoBackend"
    refused = manage("check", **production_env(VIDEO_BACKEND=daily, DAILY_API_KEY=None))
    assert refused.returncode != 0
    assert "DAILY_API_KEY" in refused.stderr
    accepted = manage("check", **production_env(VIDEO_BACKEND=daily, DAILY_API_KEY="key"))
    assert accepted.returncode == 0, accepted.stderr


def test_production_settings_pass_check_deploy():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production_env())
    assert result.returncode == 0, result.stderr


def test_production_accepts_no_proxies_when_said_explicitly():
    result = manage("check", **production_env(NUM_PROXIES="0"))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("env", [{}, {"APP_ENV": "production"}])
def test_a_practice_name_with_a_clinical_word_is_refused_everywhere(env):
    env = production_env() if env else {}
    result = manage("check", **env, PRACTICE_NAME="Evergreen Ketamine Care")
    assert result.returncode != 0
    assert "PRACTICE_NAME" in result.stderr
    assert "Ketamine" in result.stderr


def test_the_default_practice_name_starts():
    result = manage("check")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("debug", "expected"), [(None, "False"), ("true", "True")])
def test_debug_is_off_unless_set(debug, expected):
    """In a fresh process (pytest-django forces DEBUG off in this one, whatever settings say)."""
    env = {} if debug is None else {"DEBUG": debug}
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.DEBUG)",
        **env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


# --- the refusals as a function (config/production.py), without starting a process --------

LOCAL_PHARMACY = "prescriptions.pharmacy.local.LocalPharmacy"
SAFE_SETTINGS = {
    "DEBUG": False,
    "SECRET_KEY": "k" + secrets.token_urlsafe(60),
    "ALLOWED_HOSTS": ["api.practice.example"],
    "PUBLIC_BASE_URL": "https://api.practice.example",
    "PUBLIC_APP_URL": "https://app.practice.example",
    "BILLING_GATEWAY": "billing.gateways.stripe.StripeGateway",
    "STRIPE_SECRET_KEY": "sk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_example",
    "STRIPE_API_BASE_URL": "",
    "TWILIO_API_BASE_URL": "",
    "SMS_BACKEND": "notifications.sms.twilio.TwilioSmsBackend",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "VIDEO_BACKEND": "scheduling.video.daily.DailyVideoBackend",
    "DAILY_API_KEY": "daily-key",
    "DAILY_API_BASE_URL": "https://api.daily.co/v1",
    "PHARMACY_BACKEND": "prescriptions.pharmacy.http.HttpPharmacy",
}
SAFE_ENVIRON = {
    "FIELD_ENCRYPTION_KEYS": "a-fernet-key",
    "LOOKUP_HASH_KEY": "lookup-key",
    "AUDIT_CHAIN_KEY": "c" * 40,
    "ALLOWED_HOSTS": "api.practice.example",
    "NUM_PROXIES": "0",
}


def test_safe_production_values_have_no_problem():
    assert production_problems(SAFE_SETTINGS, SAFE_ENVIRON) == []


@pytest.mark.parametrize(
    ("name", "settings_change", "environ_change"),
    [
        ("DEBUG", {"DEBUG": True}, {}),
        ("SECRET_KEY", {"SECRET_KEY": DEV_SECRET_KEY}, {}),
        ("SECRET_KEY", {"SECRET_KEY": "short"}, {}),
        ("SECRET_KEY", {"SECRET_KEY": "ab" * 40}, {}),
        ("FIELD_ENCRYPTION_KEYS", {}, {"FIELD_ENCRYPTION_KEYS": None}),
        ("FIELD_ENCRYPTION_KEYS", {}, {"FIELD_ENCRYPTION_KEYS": "  "}),
        ("LOOKUP_HASH_KEY", {}, {"LOOKUP_HASH_KEY": None}),
        ("AUDIT_CHAIN_KEY", {}, {"AUDIT_CHAIN_KEY": "c" * 31}),
        ("ALLOWED_HOSTS", {}, {"ALLOWED_HOSTS": None}),
        ("ALLOWED_HOSTS", {"ALLOWED_HOSTS": ["api.practice.example", "*"]}, {}),
        ("NUM_PROXIES", {}, {"NUM_PROXIES": None}),
        ("PUBLIC_BASE_URL", {"PUBLIC_BASE_URL": "http://api.practice.example"}, {}),
        ("PUBLIC_APP_URL", {"PUBLIC_APP_URL": "http://app.practice.example"}, {}),
        ("BILLING_GATEWAY", {"BILLING_GATEWAY": "billing.gateways.local.LocalGateway"}, {}),
        ("STRIPE_SECRET_KEY", {"STRIPE_SECRET_KEY": ""}, {}),
        ("STRIPE_WEBHOOK_SECRET", {"STRIPE_WEBHOOK_SECRET": ""}, {}),
        ("STRIPE_WEBHOOK_SECRET", {"STRIPE_WEBHOOK_SECRET": "whsec_local_development_only"}, {}),
        ("STRIPE_API_BASE_URL", {"STRIPE_API_BASE_URL": "http://127.0.0.1:8420"}, {}),
        ("TWILIO_API_BASE_URL", {"TWILIO_API_BASE_URL": "http://127.0.0.1:8421"}, {}),
        ("SMS_BACKEND", {"SMS_BACKEND": "notifications.sms.console.ConsoleSmsBackend"}, {}),
        ("EMAIL_BACKEND", {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}, {}),
        ("VIDEO_BACKEND", {"VIDEO_BACKEND": "scheduling.video.embedded.EmbeddedVideoBackend"}, {}),
        ("DAILY_API_BASE_URL", {"DAILY_API_BASE_URL": "http://127.0.0.1:8422/v1"}, {}),
        ("DAILY_API_KEY", {"DAILY_API_KEY": ""}, {}),
        (
            "PHARMACY_BACKEND",
            {"PHARMACY_BACKEND": "prescriptions.pharmacy.local.LocalPharmacy"},
            {},
        ),
    ],
)
def test_each_unsafe_value_is_one_problem_naming_its_setting(name, settings_change, environ_change):
    environ = {**SAFE_ENVIRON, **environ_change}
    environ = {key: value for key, value in environ.items() if value is not None}
    problems = production_problems({**SAFE_SETTINGS, **settings_change}, environ)
    assert len(problems) == 1, problems
    assert name in problems[0]


def test_no_stripe_secret_key_is_fine_without_the_stripe_gateway():
    changed = {"BILLING_GATEWAY": "billing.gateways.other.Gateway", "STRIPE_SECRET_KEY": ""}
    assert production_problems({**SAFE_SETTINGS, **changed}, SAFE_ENVIRON) == []


def _production_section() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("### Production", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("message", [message for _, message in REFUSALS])
def test_the_readme_lists_every_refusal(message):
    # Each refusal opens with the setting it is about; README's section names each one.
    setting = message.split()[0].rstrip(":")
    assert f"`{setting}`" in _production_section()


def test_settings_stay_under_the_module_size_limit():
    lines = (ROOT / "config" / "settings.py").read_text().count("\n")
    assert lines <= 450, f"config/settings.py has {lines} lines (the limit is 450)"
