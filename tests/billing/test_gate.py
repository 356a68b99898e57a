"""The membership gate through every state, with time travel for the grace period and the
end of a canceled period; the ops filter agrees with it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from billing.models import Subscription
from billing.selectors import (
    MEMBERSHIP_STATES,
    current_subscription,
    gate_for,
    membership_gate,
    memberships_for_ops,
    state_filter,
)
from tests.billing.support import (
    NOW,
    customer_for,
    event,
    invoice_obj,
    post_signed,
    subscription_obj,
)

pytestmark = pytest.mark.django_db


def send(event_type, obj, created):
    response = post_signed(Client(), event(event_type, obj, created=created))
    assert response.status_code == 200


def sub(status="active", **kwargs):
    return subscription_obj(customer="cus_test_1", status=status, **kwargs)


def states_listed_for_ops():
    memberships = memberships_for_ops()
    return {state: list(memberships.filter(state_filter(state))) for state in MEMBERSHIP_STATES[1:]}


def assert_gate(patient_record, *, allowed, state, reason=""):
    gate = membership_gate(patient_record)
    assert (gate.allowed, gate.state, gate.reason) == (allowed, state, reason)
    # The gate's one query agrees with the deciding subscription read whole.
    assert gate == gate_for(current_subscription(patient_record))
    listed = states_listed_for_ops()
    for ops_state, rows in listed.items():
        expected = [current_subscription(patient_record)] if ops_state == state else []
        assert rows == expected, ops_state


def test_no_membership_is_refused(patient):
    gate = membership_gate(patient.patient)
    assert (gate.allowed, gate.state, gate.reason) == (False, "none", "membership_required")


def test_incomplete_is_refused_until_paid(patient):
    customer_for(patient)
    send("customer.subscription.created", sub("incomplete"), NOW)
    assert_gate(patient.patient, allowed=False, state="incomplete", reason="membership_incomplete")
    send("customer.subscription.updated", sub("active"), NOW + 1)
    assert_gate(patient.patient, allowed=True, state="active")


def test_past_due_keeps_access_for_the_grace_period_then_pauses_and_payment_restores_it(
    patient, settings
):
    settings.MEMBERSHIP_GRACE_DAYS = 7
    customer_for(patient)
    record = patient.patient
    send("customer.subscription.created", sub("active"), NOW)
    failed_at = timezone.now()
    send("invoice.payment_failed", invoice_obj(customer="cus_test_1"), int(failed_at.timestamp()))
    gate = membership_gate(record)
    assert (gate.allowed, gate.state) == (True, "past_due")
    assert abs(gate.grace_ends_at - (failed_at + timedelta(days=7))) < timedelta(seconds=2)

    with time_machine.travel(failed_at + timedelta(days=6, hours=23)):
        assert_gate(record, allowed=True, state="past_due")
    with time_machine.travel(failed_at + timedelta(days=7, seconds=1)):
        assert_gate(record, allowed=False, state="paused", reason="membership_paused")
        paid = invoice_obj(customer="cus_test_1", status="paid")
        send("invoice.paid", paid, int(timezone.now().timestamp()))
        assert_gate(record, allowed=True, state="active")
        assert Subscription.objects.get().past_due_since is None


def test_the_grace_period_is_a_setting(patient, settings):
    settings.MEMBERSHIP_GRACE_DAYS = 2
    customer_for(patient)
    send("customer.subscription.created", sub("past_due"), int(timezone.now().timestamp()))
    with time_machine.travel(timezone.now() + timedelta(days=2, minutes=1)):
        assert membership_gate(patient.patient).state == "paused"


def test_unpaid_at_the_gateway_is_paused(patient):
    customer_for(patient)
    send("customer.subscription.created", sub("unpaid"), NOW)
    assert_gate(patient.patient, allowed=False, state="paused", reason="membership_paused")


def test_a_cancellation_keeps_access_until_the_period_ends_even_without_a_webhook(patient):
    customer_for(patient)
    period_end = timezone.now() + timedelta(days=10)
    send(
        "customer.subscription.updated",
        sub("active", cancel_at_period_end=True, period_end=int(period_end.timestamp())),
        NOW,
    )
    assert_gate(patient.patient, allowed=True, state="active")
    with time_machine.travel(period_end + timedelta(seconds=1)):
        assert_gate(patient.patient, allowed=False, state="canceled", reason="membership_canceled")


def test_canceled_is_refused_and_a_new_membership_decides_again(patient):
    customer_for(patient)
    send("customer.subscription.created", sub("active"), NOW)
    send("customer.subscription.deleted", sub("canceled"), NOW + 1)
    assert_gate(patient.patient, allowed=False, state="canceled", reason="membership_canceled")
    send("customer.subscription.created", sub("active", sub_id="sub_test_2"), NOW + 2)
    assert_gate(patient.patient, allowed=True, state="active")
    assert current_subscription(patient.patient).gateway_subscription_id == "sub_test_2"


def test_one_patients_membership_does_not_open_the_gate_for_another(patient, other_patient):
    customer_for(patient)
    send("customer.subscription.created", sub("active"), NOW)
    assert membership_gate(patient.patient).allowed
    assert not membership_gate(other_patient.patient).allowed
