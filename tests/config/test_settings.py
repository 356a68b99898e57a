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


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    ours = {
        "SECRET_KEY",
        "DEBUG",
        "FIELD_ENCRYPTION_KEYS",
        "LOOKUP_HASH_KEY",
        "AUDIT_CHAIN_KEY",
        "ALLOWED_HOSTS",
        "PUBLIC_BASE_URL",
    }
    clean = {k: v for k, v in os.environ.items() if k not in ours}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_the_development_secret_key():
    result = manage("check", APP_ENV="production")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_to_run_without_encryption_keys():
    result = manage("check", APP_ENV="production", SECRET_KEY=secrets.token_urlsafe(50))
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS" in result.stderr


@pytest.mark.parametrize(
    "missing",
    [
        "AUDIT_CHAIN_KEY",
        "ALLOWED_HOSTS",
        "PUBLIC_BASE_URL",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
    ],
)
def test_production_refuses_to_start_without_each_required_setting(missing):
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "LOOKUP_HASH_KEY": "lookup-key",
        "AUDIT_CHAIN_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "api.practice.example",
        "PUBLIC_BASE_URL": "https://api.practice.example",
        "STRIPE_SECRET_KEY": "sk_live_example",
        "STRIPE_WEBHOOK_SECRET": "whsec_example",
    }
    del env[missing]
    result = manage("check", **env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_settings_pass_check_deploy():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        APP_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        LOOKUP_HASH_KEY="lookup-key",
        AUDIT_CHAIN_KEY=secrets.token_urlsafe(40),
        ALLOWED_HOSTS="api.practice.example",
        PUBLIC_BASE_URL="https://api.practice.example",
        STRIPE_SECRET_KEY="sk_live_example",
        STRIPE_WEBHOOK_SECRET="whsec_example",
    )
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
