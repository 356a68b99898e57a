"""The patient's message preferences and the operations outbox list."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from notifications.models import Category, Channel, Consent, ConsentEvent, Message, MessageStatus
from notifications.phone_status import phone_flag
from notifications.services import CONSENT_WORDING, ConsentChange, consents_set
from tests.actors import actor_user, client_for
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

PREFERENCES = "/api/notifications/preferences"
MESSAGES = "/api/notifications/messages"
PHONE = "+13055550123"


def patch(client: Any, body: Any) -> Any:
    return client.patch(PREFERENCES, body, format="json")


def change(category: str, channel: str, granted: bool = True) -> dict[str, Any]:
    return {"category": category, "channel": channel, "granted": granted}


# --- preferences ------------------------------------------------------------------------


def test_a_new_patient_has_no_consents_and_is_not_opted_out(patient):
    response = client_for(patient).get(PREFERENCES)
    assert response.status_code == 200
    assert response.json() == {"consents": [], "sms_opted_out": False}


def test_granting_consents_returns_them_with_wording_and_records_them(patient):
    response = patch(
        client_for(patient),
        {"consents": [change("care", "sms"), change("marketing", "email")]},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["sms_opted_out"] is False
    by_kind = {(c["category"], c["channel"]): c for c in body["consents"]}
    assert set(by_kind) == {("care", "sms"), ("marketing", "email")}
    for (category, _channel), consent in by_kind.items():
        assert consent["granted"] is True
        assert consent["given_via"] == "app"
        assert consent["wording"] == CONSENT_WORDING[Category(category)]
        assert consent["changed_at"]
    rows = {(c.category, c.channel): c for c in Consent.objects.filter(user=patient)}
    assert set(rows) == {("care", "sms"), ("marketing", "email")}
    assert all(row.granted and row.source == "app" for row in rows.values())
    updates = AuditEvent.objects.filter(
        actor=patient, action="update", object_type="notifications.consent"
    )
    assert sorted(updates.values_list("object_id", flat=True)) == sorted(
        str(row.public_id) for row in rows.values()
    )
    assert sorted((u.detail["category"], u.detail["channel"]) for u in updates) == sorted(rows)


def test_withdrawing_a_consent_updates_the_same_row(patient):
    client = client_for(patient)
    patch(client, {"consents": [change("billing", "sms")]})
    response = patch(client, {"consents": [change("billing", "sms", granted=False)]})

    assert response.status_code == 200
    (consent,) = response.json()["consents"]
    assert consent["granted"] is False
    assert Consent.objects.filter(user=patient).count() == 1


def test_granting_then_withdrawing_leaves_both_in_the_history(patient):
    client = client_for(patient)
    patch(client, {"consents": [change("marketing", "sms")]})
    patch(client, {"consents": [change("marketing", "sms", granted=False)]})

    events = list(ConsentEvent.objects.filter(user=patient).order_by("at", "pk"))
    assert [(e.category, e.channel, e.granted, e.source) for e in events] == [
        ("marketing", "sms", True, "app"),
        ("marketing", "sms", False, "app"),
    ]
    assert all(e.wording == CONSENT_WORDING[Category.MARKETING] for e in events)
    assert events[0].at <= events[1].at
    # The current state is still one row.
    (consent,) = Consent.objects.filter(user=patient)
    assert consent.granted is False


def test_consent_history_is_append_only(patient):
    consents_set(user=patient, source="app", changes=[ConsentChange("care", "sms", True)])
    event = ConsentEvent.objects.get()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ConsentEvent.objects.filter(pk=event.pk).update(granted=False)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ConsentEvent.objects.filter(pk=event.pk).delete()
    assert ConsentEvent.objects.get().granted is True


def test_reading_preferences_is_audited(patient):
    client_for(patient).get(PREFERENCES)
    assert AuditEvent.objects.filter(
        actor=patient, action="read", object_type="notifications.consent"
    ).exists()


def test_an_opted_out_number_shows_in_preferences(patient):
    patient.patient.set_phone(PHONE)
    patient.patient.save()
    phone_flag(phone=PHONE, opted_out=True, source="sms_keyword")

    assert client_for(patient).get(PREFERENCES).json()["sms_opted_out"] is True


def test_an_unknown_category_is_refused_naming_the_field(patient):
    response = patch(client_for(patient), {"consents": [change("lab_results", "sms")]})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "consents.0.category" in error["fields"]
    assert not Consent.objects.exists()


def test_an_unknown_channel_in_a_later_item_is_refused_naming_the_field(patient):
    body = {"consents": [change("care", "sms"), change("care", "fax")]}
    response = patch(client_for(patient), body)

    assert response.status_code == 400
    assert "consents.1.channel" in response.json()["error"]["fields"]
    assert not Consent.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"consents": [change("care", "sms")], "sms_opted_out": False}, "sms_opted_out"),
        ({"consents": [{**change("care", "sms"), "source": "intake"}]}, "consents.0.source"),
    ],
)
def test_unknown_fields_are_refused(patient, body, field):
    response = patch(client_for(patient), body)

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Consent.objects.exists()


@pytest.mark.parametrize("body", [{"consents": []}, {}, {"consents": None}])
def test_an_empty_or_missing_list_is_refused(patient, body):
    response = patch(client_for(patient), body)

    assert response.status_code == 400
    assert "consents" in response.json()["error"]["fields"]


def test_a_missing_granted_flag_is_refused(patient):
    response = patch(client_for(patient), {"consents": [{"category": "care", "channel": "sms"}]})

    assert response.status_code == 400
    assert "consents.0.granted" in response.json()["error"]["fields"]


@pytest.mark.parametrize("actor", ["physician", "ops_admin"])
@pytest.mark.parametrize("method", ["get", "patch"])
def test_staff_have_no_preferences(request, actor, method):
    user = actor_user(request, actor)
    client = client_for(user)
    response = getattr(client, method)(
        PREFERENCES, {"consents": [change("care", "sms")]}, format="json"
    )

    assert response.status_code == 403
    assert not Consent.objects.exists()


@pytest.mark.parametrize("method", ["get", "patch"])
def test_anonymous_gets_401_on_preferences(api, method):
    response = getattr(api, method)(
        PREFERENCES, {"consents": [change("care", "sms")]}, format="json"
    )
    assert response.status_code == 401
    assert not Consent.objects.exists()


def test_each_patient_sees_and_changes_only_their_own_consents(patient, other_patient):
    consents_set(
        user=other_patient,
        source="intake",
        changes=[ConsentChange("marketing", "sms", True), ConsentChange("care", "sms", True)],
    )

    assert client_for(patient).get(PREFERENCES).json()["consents"] == []
    response = patch(client_for(patient), {"consents": [change("care", "sms", granted=False)]})

    assert [(c["category"], c["granted"]) for c in response.json()["consents"]] == [("care", False)]
    theirs = {c.category: c for c in Consent.objects.filter(user=other_patient)}
    assert theirs["care"].granted is True
    assert theirs["care"].source == "intake"
    mine = client_for(other_patient).get(PREFERENCES).json()["consents"]
    assert {(c["category"], c["granted"]) for c in mine} == {("care", True), ("marketing", True)}


# --- operations outbox ------------------------------------------------------------------

SECRET_PATH = "/checkins/do-not-show-this-path"


def make_message(
    recipient: User,
    *,
    status: str = MessageStatus.SCHEDULED,
    category: str = Category.CARE,
    channel: str = Channel.SMS,
    template_key: str = "appointment_reminder",
    created_at: Any = None,
) -> Message:
    return Message.objects.create(
        recipient=recipient,
        channel=channel,
        category=category,
        template_key=template_key,
        context={"path": SECRET_PATH},
        dedupe_key=f"test:{uuid.uuid4()}",
        status=status,
        created_at=created_at or timezone.now(),
    )


def listed(client: Any, **params: Any) -> list[dict[str, Any]]:
    response = client.get(MESSAGES, params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_ops_see_template_and_status_but_never_a_body_or_context(ops_admin, patient):
    message = make_message(patient, status=MessageStatus.SENT)
    response = client_for(ops_admin).get(MESSAGES)

    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["id"] == str(message.public_id)
    assert row["recipient_id"] == str(patient.public_id)
    assert row["template_key"] == "appointment_reminder"
    assert row["status"] == "sent"
    assert row["channel"] == "sms"
    assert row["category"] == "care"
    for field in ("context", "body", "text", "sms", "email_body", "email_subject", "rendered"):
        assert field not in row
    assert SECRET_PATH.encode() not in response.content
    assert b"Evergreen" not in response.content  # nothing rendered from a template


def test_the_outbox_lists_newest_first(ops_admin, patient):
    now = timezone.now()
    old = make_message(patient, created_at=now - timedelta(hours=2))
    new = make_message(patient, created_at=now)

    assert [row["id"] for row in listed(client_for(ops_admin))] == [
        str(new.public_id),
        str(old.public_id),
    ]


def test_the_outbox_filters(ops_admin, patient, other_patient):
    now = timezone.now()
    canceled = make_message(patient, status=MessageStatus.CANCELED)
    billing = make_message(
        other_patient,
        category=Category.BILLING,
        channel=Channel.EMAIL,
        template_key="payment_failed",
        created_at=now - timedelta(days=3),
    )
    plain = make_message(patient, created_at=now - timedelta(days=1))
    client = client_for(ops_admin)

    def ids(**params: Any) -> set[str]:
        return {row["id"] for row in listed(client, **params)}

    assert ids(status="canceled") == {str(canceled.public_id)}
    assert ids(category="billing") == {str(billing.public_id)}
    assert ids(channel="email") == {str(billing.public_id)}
    assert ids(template_key="payment_failed") == {str(billing.public_id)}
    assert ids(template_key="appointment_reminder") == {
        str(canceled.public_id),
        str(plain.public_id),
    }
    after = (now - timedelta(hours=36)).isoformat()
    assert ids(created_after=after) == {str(canceled.public_id), str(plain.public_id)}
    assert ids(created_before=after) == {str(billing.public_id)}
    assert ids(status="scheduled", created_after=after) == {str(plain.public_id)}


@pytest.mark.parametrize(
    "params",
    [{"status": "exploded"}, {"category": "gossip"}, {"created_after": "last tuesday"}],
)
def test_invalid_filters_are_refused(ops_admin, params):
    response = client_for(ops_admin).get(MESSAGES, params)
    assert response.status_code == 400
    assert set(params) <= set(response.json()["error"]["fields"])


@pytest.mark.parametrize("actor", ["patient", "physician"])
def test_patients_and_physicians_cannot_list_the_outbox(request, actor):
    user = actor_user(request, actor)
    make_message(PatientFactory().user)

    response = client_for(user).get(MESSAGES)

    assert response.status_code == 403
    assert b"appointment_reminder" not in response.content


def test_anonymous_gets_401_on_the_outbox(api, patient):
    make_message(patient)
    response = api.get(MESSAGES)
    assert response.status_code == 401


def test_the_outbox_runs_a_fixed_number_of_queries(ops_admin):
    client = client_for(ops_admin)
    recipients = [PatientFactory().user for _ in range(30)]
    for recipient in recipients[:3]:
        make_message(recipient)
    client.get(MESSAGES)  # warm up: first use of the session

    with CaptureQueriesContext(connection) as few:
        response = client.get(MESSAGES)
    assert len(response.json()["results"]) == 3

    for recipient in recipients[3:]:
        make_message(recipient, status=MessageStatus.DELIVERED)
    with CaptureQueriesContext(connection) as many:
        response = client.get(MESSAGES)
    body = response.json()
    assert body["count"] == 30
    assert len(body["results"]) == 20  # one page

    assert len(many) == len(few)


def test_listing_the_outbox_audits_a_read_of_each_listed_message(ops_admin, patient, other_patient):
    mine = [make_message(patient) for _ in range(2)]
    theirs = make_message(other_patient)
    staff = make_message(ops_admin, channel=Channel.EMAIL)

    rows = listed(client_for(ops_admin))

    reads = AuditEvent.objects.filter(
        actor=ops_admin, action="read", object_type="notifications.message"
    )
    assert sorted(reads.values_list("object_id", flat=True)) == sorted(row["id"] for row in rows)
    patient_of = dict(reads.values_list("object_id", "patient_id"))
    for message in mine:
        assert patient_of[str(message.public_id)] == patient.patient.public_id
    assert patient_of[str(theirs.public_id)] == other_patient.patient.public_id
    assert patient_of[str(staff.public_id)] is None


def test_only_the_page_shown_is_audited(ops_admin):
    for recipient in [PatientFactory().user for _ in range(25)]:
        make_message(recipient)

    rows = listed(client_for(ops_admin))

    assert len(rows) == 20
    reads = AuditEvent.objects.filter(action="read", object_type="notifications.message")
    assert set(reads.values_list("object_id", flat=True)) == {row["id"] for row in rows}


def test_a_refused_outbox_request_audits_no_message_read(patient):
    make_message(patient)
    client_for(patient).get(MESSAGES)
    assert not AuditEvent.objects.filter(object_type="notifications.message").exists()
