"""Demo data (known passwords, free test cards) never reaches a production database."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from config.stack import seeds_demo


@pytest.mark.django_db
def test_seed_demo_refuses_to_run_in_production(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo")
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("database_url", "demo", "expected"),
    [
        (None, False, True),  # the embedded database: seeded
        ("postgres://app@db.internal/telehealth", False, False),
        ("postgres://app@db.internal/telehealth", True, True),
    ],
)
def test_make_run_seeds_only_the_embedded_database_unless_asked(database_url, demo, expected):
    assert seeds_demo(database_url=database_url, demo=demo) is expected
