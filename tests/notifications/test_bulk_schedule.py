"""messages_schedule: many drafts in a constant number of statements, with the rules of
message_schedule (dedupe keeps the first, a canceled one is revived, context keys
checked before anything is written, dispatch on commit when something is due now), and
safe when two transactions schedule the same keys at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications import services
from notifications.models import Message, MessageStatus
from notifications.services import MessageDraft, messages_schedule


def draft(user, key, *, hours=1, channel="sms", **kwargs):
    return MessageDraft(
        recipient=user,
        template_key=kwargs.pop("template_key", "appointment_reminder"),
        category="care",
        channel=channel,
        dedupe_key=key,
        context=kwargs.pop("context", {"path": f"/appointments/{key}"}),
        send_at=timezone.now() + timedelta(hours=hours),
        **kwargs,
    )


def seven(user, prefix="a"):
    """As many drafts as a booking makes."""
    return [draft(user, f"{prefix}:{n}", channel=("sms", "email")[n % 2]) for n in range(7)]


# --- the rows -------------------------------------------------------------------------


@pytest.mark.django_db
def test_new_existing_and_canceled_keys_get_the_right_rows(patient):
    kept = services.message_schedule(
        recipient=patient,
        template_key="appointment_reminder",
        category="care",
        channel="sms",
        dedupe_key="k:kept",
        context={"path": "/first"},
        send_at=timezone.now() + timedelta(hours=5),
    )
    gone = services.message_schedule(
        recipient=patient,
        template_key="appointment_reminder",
        category="care",
        channel="sms",
        dedupe_key="k:gone:x",
        send_at=timezone.now() + timedelta(hours=5),
    )
    services.messages_cancel(dedupe_prefix="k:gone:")
    Message.objects.filter(pk=gone.pk).update(attempts=2, provider_error_code="503")
    expires = timezone.now() + timedelta(hours=9)

    drafts = [
        draft(patient, "k:new", hours=2, expires_at=expires),
        draft(patient, "k:kept", hours=3, context={"path": "/second"}),
        draft(patient, "k:gone:x", hours=4, channel="email", urgent=True, expires_at=expires),
        draft(patient, "k:new", hours=8, channel="email"),  # the first draft of a key counts
    ]

    rows = messages_schedule(drafts)

    new, still, revived, new_again = rows
    assert Message.objects.count() == 3
    assert new_again.pk == new.pk
    assert (new.channel, new.status, new.expires_at) == ("sms", MessageStatus.SCHEDULED, expires)
    assert new.send_at == drafts[0].send_at
    # An existing, live message is kept as it was.
    assert still.pk == kept.pk
    assert (still.context, still.send_at) == ({"path": "/first"}, kept.send_at)
    # A canceled one is scheduled again with the new details and a fresh state.
    assert revived.pk == gone.pk
    assert (revived.status, revived.channel, revived.urgent, revived.expires_at) == (
        MessageStatus.SCHEDULED,
        "email",
        True,
        expires,
    )
    assert (revived.attempts, revived.provider_error_code, revived.canceled_at) == (0, "", None)
    assert (revived.send_at, revived.context) == (drafts[2].send_at, drafts[2].context)
    assert Message.objects.get(pk=gone.pk).status == MessageStatus.SCHEDULED


@pytest.mark.django_db
def test_no_drafts_schedule_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert messages_schedule([]) == []


# --- the cost -------------------------------------------------------------------------


@pytest.mark.django_db
def test_seven_drafts_cost_the_statements_of_one(patient):
    with CaptureQueriesContext(connection) as one:
        messages_schedule([draft(patient, "single")])
    with CaptureQueriesContext(connection) as many:
        rows = messages_schedule(seven(patient))
    assert len({row.pk for row in rows}) == 7
    # One INSERT ... ON CONFLICT DO NOTHING RETURNING, inside the caller's transaction.
    assert len(many.captured_queries) == len(one.captured_queries) == 1
    assert "ON CONFLICT DO NOTHING RETURNING" in many.captured_queries[0]["sql"]


@pytest.mark.django_db
def test_scheduling_existing_keys_again_adds_one_select(patient):
    messages_schedule(seven(patient))
    with CaptureQueriesContext(connection) as again:
        messages_schedule(seven(patient))
    assert len(again.captured_queries) == 2
    assert Message.objects.count() == 7


# --- refused before anything is written -----------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"context": {"path": "/x", "first_name": "Jordan"}}, ValueError),
        ({"template_key": "lab_results"}, KeyError),
        ({"channel": "fax"}, ValueError),
    ],
)
def test_one_bad_draft_writes_nothing(patient, django_assert_num_queries, bad, error):
    drafts = [*seven(patient), draft(patient, "bad", **bad)]
    with django_assert_num_queries(0), pytest.raises(error):
        messages_schedule(drafts)
    assert not Message.objects.exists()


# --- dispatch on commit ---------------------------------------------------------------


@pytest.mark.django_db
def test_dispatch_is_asked_once_when_something_new_is_due_now(
    patient, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as later:
        messages_schedule(seven(patient))
    assert later == []
    with django_capture_on_commit_callbacks() as due:
        messages_schedule([*seven(patient, "b"), draft(patient, "now", hours=0)])
    assert len(due) == 1
    with django_capture_on_commit_callbacks() as kept:
        messages_schedule([draft(patient, "now", hours=0)])
    assert kept == []  # nothing created or revived


@pytest.mark.django_db
def test_dispatch_is_asked_when_a_revived_message_is_due_now(
    patient, django_capture_on_commit_callbacks
):
    messages_schedule([draft(patient, "r:1", hours=2)])
    services.messages_cancel(dedupe_prefix="r:")
    with django_capture_on_commit_callbacks() as due:
        messages_schedule([draft(patient, "r:1", hours=0)])
    assert len(due) == 1


# --- two transactions at once ---------------------------------------------------------


def run_together(calls):
    """Run each call in its own thread (and connection) at the same moment."""
    start = threading.Barrier(len(calls))
    results: list[list[Message]] = []
    errors: list[BaseException] = []

    def run(call) -> None:
        try:
            start.wait()
            results.append(call())
        except BaseException as exc:  # surfaced by the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_schedulers_of_the_same_keys_get_one_row_per_key(patient):
    drafts = seven(patient)
    # Same keys in different orders: the rows are still inserted in one order, no deadlock.
    orders = [drafts, drafts[::-1], drafts[3:] + drafts[:3], drafts]
    results, errors = run_together([lambda o=order: messages_schedule(o) for order in orders])
    assert not errors
    assert len(results) == 4
    by_key = [{row.dedupe_key: row.pk for row in rows} for rows in results]
    assert all(seen == by_key[0] for seen in by_key)
    assert Message.objects.count() == 7
    assert set(Message.objects.values_list("pk", flat=True)) == set(by_key[0].values())


@pytest.mark.django_db(transaction=True)
def test_concurrent_revivals_revive_each_canceled_key_once(patient):
    keys = [f"c:{n}" for n in range(3)]
    messages_schedule([draft(patient, key) for key in keys])
    services.messages_cancel(dedupe_prefix="c:")
    calls = [
        lambda h=hours: messages_schedule([draft(patient, key, hours=h) for key in keys])
        for hours in (2, 3, 4, 5)
    ]
    results, errors = run_together(calls)
    assert not errors
    assert len(results) == 4
    stored = {m.dedupe_key: (m.pk, m.status, m.send_at) for m in Message.objects.all()}
    assert len(stored) == 3
    assert {status for _, status, _ in stored.values()} == {MessageStatus.SCHEDULED}
    # One reviver per key; every caller got (and kept) what that one wrote.
    for rows in results:
        assert {r.dedupe_key: (r.pk, r.status, r.send_at) for r in rows} == stored
