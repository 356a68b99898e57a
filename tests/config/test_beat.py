"""The beat schedule: the local pharmacy's entry (it plays pharmacy and carrier in `make
run`) only with the local pharmacy backend, as the local gateway's only with the local
gateway; every other entry whatever the backends."""

from __future__ import annotations

import environ
import pytest

from config.beat import beat_schedule
from tests.config.test_settings import manage

LOCAL_PHARMACY = "prescriptions-local-pharmacy"
LOCAL_GATEWAY = "billing-deliver-local-events"


@pytest.mark.parametrize("local_pharmacy", [True, False])
@pytest.mark.parametrize("local_gateway", [True, False])
def test_the_local_entries_follow_their_backends(local_pharmacy, local_gateway):
    schedule = beat_schedule(
        environ.Env(),
        dispatch_interval=30.0,
        local_gateway=local_gateway,
        local_pharmacy=local_pharmacy,
    )
    assert (LOCAL_PHARMACY in schedule) is local_pharmacy
    assert (LOCAL_GATEWAY in schedule) is local_gateway
    if local_pharmacy:
        assert schedule[LOCAL_PHARMACY]["task"] == "prescriptions.tasks.play_local_pharmacy"
    others = set(schedule) - {LOCAL_PHARMACY, LOCAL_GATEWAY}
    assert "prescriptions-pharmacy-submissions" in others


def _entries(**env: str) -> list[str]:
    shown = "from django.conf import settings; print(' '.join(settings.CELERY_BEAT_SCHEDULE))"
    done = manage("shell", "-c", shown, **env)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_settings_schedule_the_local_pharmacy_only_with_its_backend():
    assert LOCAL_PHARMACY in _entries()  # the default: the local pharmacy
    http = _entries(PHARMACY_BACKEND="prescriptions.pharmacy.http.HttpPharmacy")
    assert LOCAL_PHARMACY not in http
    assert "prescriptions-pharmacy-submissions" in http
