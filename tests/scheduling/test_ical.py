"""The physician's personal iCal feed: the secret URL (shown once, stored as a keyed hash,
rotated, revoked), the feed parsed back with icalendar (events, UTC times, summaries with
only the type and the initials), its audit, headers, throttle, and the secret kept out of
the logs."""

from __future__ import annotations

import logging
import logging.config
import time
from datetime import UTC, timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from audit.models import AuditEvent
from core.crypto import keyed_hash
from scheduling.log_redaction import RedactFeedSecrets
from scheduling.models import AppointmentKind, AppointmentStatus, PhysicianSchedule
from tests.actors import client_for
from tests.scheduling.support import appointment_for
from tests.scheduling.support_calendar import counted, events_of

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/scheduling/agenda/ical-token"
NOTE = "Discussed titration and the sitter plan"


def uid(appointment) -> str:
    return f"appointment-{appointment.public_id}@{urlsplit(settings.PUBLIC_BASE_URL).hostname}"


def new_feed(physician) -> str:
    """Create (or rotate) the physician's feed; the path of its URL."""
    response = client_for(physician.user).post(TOKEN_URL)
    assert response.status_code == 201, response.json()
    return urlsplit(response.json()["url"]).path


def fetch(path: str, **headers):
    return APIClient().get(path, **headers)


@pytest.fixture
def visits(patient, other_patient, physician, physician_licensed_elsewhere):
    now = timezone.now().replace(second=0, microsecond=0)
    day = timedelta(days=1)
    rows = {
        "booked": appointment_for(patient, physician, now + 2 * day),
        "in_progress": appointment_for(
            other_patient,
            physician,
            now - timedelta(minutes=5),
            kind=AppointmentKind.CONSULTATION,
            status=AppointmentStatus.IN_PROGRESS,
        ),
        "completed": appointment_for(
            patient, physician, now - 20 * day, status=AppointmentStatus.COMPLETED
        ),
        "far_ahead": appointment_for(
            other_patient, physician, now + 55 * day, kind=AppointmentKind.FOLLOW_UP
        ),
        "canceled": appointment_for(
            patient, physician, now + 3 * day, status=AppointmentStatus.CANCELED
        ),
        "no_show": appointment_for(
            patient, physician, now - 2 * day, status=AppointmentStatus.NO_SHOW
        ),
        "too_old": appointment_for(
            patient, physician, now - 31 * day, status=AppointmentStatus.COMPLETED
        ),
        "elsewhere": appointment_for(
            patient,
            physician_licensed_elsewhere,
            now + 4 * day,
            kind=AppointmentKind.FOLLOW_UP,
        ),
    }
    rows["completed"].visit_note = NOTE
    rows["completed"].save(update_fields=["visit_note"])
    return rows


def test_the_url_is_shown_once_and_only_its_keyed_hash_is_stored(physician):
    response = client_for(physician.user).post(TOKEN_URL)

    assert response.status_code == 201
    url = response.json()["url"]
    assert url.startswith("http") and url.endswith(".ics")
    token = urlsplit(url).path.rsplit("/", 1)[-1].removesuffix(".ics")
    assert len(token) >= 40
    schedule = PhysicianSchedule.objects.get(physician=physician)
    assert schedule.ical_token_hash == keyed_hash(token, purpose="scheduling.ical_feed")
    assert token not in schedule.ical_token_hash
    assert schedule.ical_token_created_at is not None
    assert response.json()["created_at"] == schedule.ical_token_created_at.isoformat().replace(
        "+00:00", "Z"
    )
    created = AuditEvent.objects.get(actor=physician.user, object_type="scheduling.icalfeed")
    assert (created.action, created.detail) == ("create", {"rotated": False})
    assert token not in str(created.detail)


def test_the_feed_parses_back_to_the_physicians_visits_in_utc(physician, visits):
    response = fetch(new_feed(physician))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    events = events_of(response)
    by_uid = {str(event["UID"]): event for event in events}
    # Booked, in progress and completed, from 30 days ago to the horizon; canceled and
    # no-show visits are left out.
    want = ("completed", "in_progress", "booked", "far_ahead")
    assert list(by_uid) == [uid(visits[k]) for k in want]
    for key, event in zip(want, events, strict=True):
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert start.utcoffset() == timedelta(0) and start.tzinfo is not None
        assert (start, end) == (visits[key].starts_at, visits[key].ends_at)
    booked = visits["booked"].starts_at.astimezone(UTC)
    assert f"DTSTART:{booked:%Y%m%dT%H%M%S}Z" in response.content.decode()


def test_summaries_carry_only_the_type_and_the_initials(patient, other_patient, physician, visits):
    response = fetch(new_feed(physician))
    summaries = [str(event["SUMMARY"]) for event in events_of(response)]
    assert summaries == ["Check-in JR", "Consultation JR", "Check-in JR", "Follow-up JR"]

    text = response.content.decode()
    for secret in (
        NOTE,
        patient.patient.legal_last_name,
        other_patient.patient.legal_last_name,
        "Jordan",
        str(patient.patient.public_id),
        str(patient.public_id),
        physician.last_name,
    ):
        assert secret not in text
    description = str(events_of(response)[2]["DESCRIPTION"])
    assert description.endswith(f"/appointments/{visits['booked'].public_id}")


def test_uids_are_stable_from_fetch_to_fetch(physician, visits):
    path = new_feed(physician)
    first = [str(e["UID"]) for e in events_of(fetch(path))]
    assert [str(e["UID"]) for e in events_of(fetch(path))] == first


def test_each_fetch_is_one_audit_row_for_the_physician_with_the_count(physician, visits):
    path = new_feed(physician)
    response, queries, inserts = counted(lambda: fetch(path))

    assert response.status_code == 200
    assert inserts == 1
    read = AuditEvent.objects.filter(action="read").get()  # exactly one
    assert (read.actor_id, read.object_type) == (physician.user.pk, "scheduling.icalfeed")
    assert read.detail == {"count": 4}
    assert queries <= 3  # the physician by hash, the visits, the audit row


def test_the_feed_is_private_and_never_stored(physician):
    response = fetch(new_feed(physician))
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= directives


def test_a_calendar_apps_accept_header_is_answered_with_the_calendar(physician, visits):
    response = fetch(new_feed(physician), HTTP_ACCEPT="text/calendar")
    assert response.status_code == 200
    assert len(events_of(response)) == 4


def test_rotating_makes_the_old_url_404(physician, visits):
    old = new_feed(physician)
    new = new_feed(physician)

    assert old != new
    assert fetch(old).status_code == 404
    assert fetch(new).status_code == 200
    rotated = AuditEvent.objects.filter(object_type="scheduling.icalfeed", action="update")
    assert rotated.get().detail == {"rotated": True}


def test_revoking_stops_the_feed(physician, visits):
    path = new_feed(physician)
    response = client_for(physician.user).delete(TOKEN_URL)

    assert response.status_code == 204
    assert fetch(path).status_code == 404
    assert PhysicianSchedule.objects.get(physician=physician).ical_token_hash == ""
    assert AuditEvent.objects.filter(object_type="scheduling.icalfeed", action="delete").exists()
    # Revoking again changes nothing and is still 204.
    assert client_for(physician.user).delete(TOKEN_URL).status_code == 204


@pytest.mark.parametrize(
    "path",
    [
        "/api/scheduling/ical/" + "A" * 43 + ".ics",
        "/api/scheduling/ical/short.ics",
        "/api/scheduling/ical/.ics",
    ],
)
def test_an_unknown_secret_is_404(physician, path):
    new_feed(physician)
    assert fetch(path).status_code == 404
    assert not AuditEvent.objects.filter(action="read").exists()


def test_a_schedule_without_a_feed_matches_no_empty_secret(physician):
    PhysicianSchedule.objects.create(physician=physician)
    assert fetch("/api/scheduling/ical/" + "-" * 43 + ".ics").status_code == 404


def test_another_physicians_feed_shows_only_theirs(physician, physician_licensed_elsewhere, visits):
    new_feed(physician)
    events = events_of(fetch(new_feed(physician_licensed_elsewhere)))
    assert [str(e["UID"]) for e in events] == [uid(visits["elsewhere"])]


def test_the_feed_is_throttled_per_secret(monkeypatch, physician, physician_licensed_elsewhere):
    rates = dict(SimpleRateThrottle.THROTTLE_RATES)
    rates["ical_feed"] = "2/min"
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    mine, theirs = new_feed(physician), new_feed(physician_licensed_elsewhere)

    with time_machine.travel(time.time(), tick=False):
        assert [fetch(mine).status_code for _ in range(3)] == [200, 200, 429]
        assert fetch(theirs).status_code == 200


def test_the_throttle_rate_is_a_setting():
    assert SimpleRateThrottle.THROTTLE_RATES["ical_feed"] == "30/hour"


# --- the secret stays out of the logs ----------------------------------------------------


def test_a_server_error_on_the_feed_logs_its_path_without_the_secret(
    monkeypatch, caplog, physician
):
    path = new_feed(physician)
    token = path.rsplit("/", 1)[-1].removesuffix(".ics")

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("scheduling.api.ical.feed_calendar", broken)
    client = APIClient(raise_request_exception=False)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        assert client.get(path).status_code == 500

    logged = [record.getMessage() for record in caplog.records]
    assert any("/api/scheduling/ical/[redacted].ics" in line for line in logged), logged
    assert not any(token in line for line in logged)


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_gunicorns_access_log_writes_the_feed_path_masked():
    """As in a worker of config/stack.py: gunicorn sets up its access log (to stderr), then
    the Django app loads and applies LOGGING; the request line still reaches the console,
    with the secret masked."""
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    secret = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    path = f"/api/scheduling/ical/{secret}.ics"
    cfg = Config()
    cfg.set("accesslog", "-")
    gunicorn_log = Logger(cfg)
    logging.config.dictConfig(settings.LOGGING)
    lines = Lines()
    logging.getLogger().addHandler(lines)
    try:
        response = SimpleNamespace(status="200 OK", status_code=200, sent=10, headers=[])
        request = SimpleNamespace(headers=[], method="GET", path=path, query="", uri=path)
        environ = {
            "REMOTE_ADDR": "10.0.0.1",
            "REQUEST_METHOD": "GET",
            "RAW_URI": path,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
        gunicorn_log.access(response, request, environ, timedelta(milliseconds=5))
    finally:
        logging.getLogger().removeHandler(lines)

    assert len(lines.lines) == 1, lines.lines
    assert '"GET /api/scheduling/ical/[redacted].ics HTTP/1.1" 200' in lines.lines[0]
    assert secret not in lines.lines[0]


def test_the_logging_config_masks_the_loggers_that_write_paths():
    for name in ("django.request", "django.server", "gunicorn.access"):
        assert any(isinstance(f, RedactFeedSecrets) for f in logging.getLogger(name).filters), name
