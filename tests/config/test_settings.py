"""Production mode refuses to start without real secrets and passes `check --deploy`."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

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
    refused = manage("check", **production_env(VIDEO_BACKEND=daily))
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
