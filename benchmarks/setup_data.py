"""Bench data: one user per token kind, each with a fresh live session.

Run inside the bench environment (`python -m benchmarks.setup_data`); prints a JSON object
{kind: access token} as its last line of stdout. Safe to run again on the same database.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import django


def _patient() -> str:
    from accounts.models import AuthSession, Role, User
    from accounts.services import _issue_tokens

    email = "bench-patient@example.test"
    user = User.objects.filter(email=email).first() or User.objects.create_user(
        email, "bench-password-123456", role=Role.PATIENT
    )
    tokens = _issue_tokens(AuthSession(user=user, mfa_required=False))
    tokens.session.save(force_insert=True)
    return tokens.access_token


TOKEN_KINDS: dict[str, Callable[[], str]] = {"patient": _patient}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    print(json.dumps({kind: make() for kind, make in TOKEN_KINDS.items()}))


if __name__ == "__main__":
    main()
