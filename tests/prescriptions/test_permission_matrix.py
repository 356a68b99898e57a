"""Prescriptions' permission matrix: every endpoint x role, with today's status. Each
resource keeps its rows, setups and bodies in its own block."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.permission_matrix import Row, assert_row, cases, statuses, table_mismatch
from tests.prescriptions.support import carrier, pharmacy
from tests.prescriptions.support_ops import order_for

pytestmark = pytest.mark.django_db

# statuses(anonymous, patient, other_patient, physician_licensed_elsewhere, physician, ops_admin)
MATRIX: dict[Row, dict[str, int]] = {}
SETUPS: dict[str, Any] = {}
BODIES: dict[Row, Any] = {}

# --- refills and the patients' and physicians' orders (h11-refill) ---------------------
# The `patient` actor's prescription (FL, by a "Matrix" physician) and its first fill. The
# `physician` actor treats in FL and sees them; the one licensed elsewhere does not (404,
# an empty list). Ops admins track orders through the ops endpoints: 403 here. A refill
# is the patient's alone; theirs is refused today (409: too early, not cleared).
MATRIX |= {
    ("POST", "prescriptions-refill"): statuses(401, 409, 404, 403, 403, 403),
    ("GET", "prescriptions-order-list"): statuses(401, 200, 200, 200, 200, 403),
    ("GET", "prescriptions-order-detail"): statuses(401, 200, 404, 404, 200, 403),
}


def _matrix_first_fill(owner: Any) -> Any:
    from prescriptions.models import EventSource, OrderKind
    from prescriptions.services.orders import order_create
    from tests.factories import DeaFactory, LicenseFactory, PhysicianFactory
    from tests.prescriptions.support import pharmacy, prescription_for

    doctor = PhysicianFactory(last_name="Matrix")
    LicenseFactory(physician=doctor, state="FL")
    DeaFactory(physician=doctor, state="FL")
    pharmacy()
    prescription = prescription_for(owner, doctor)
    return order_create(
        prescription=prescription,
        patient=owner.patient,
        kind=OrderKind.FIRST_FILL,
        fill_number=0,
        source=EventSource.SYSTEM,
        actor=None,
    )


def _matrix_prescription(owner: Any) -> dict[str, Any]:
    return {"public_id": _matrix_first_fill(owner).prescription.public_id}


def _matrix_orders(owner: Any) -> dict[str, Any]:
    _matrix_first_fill(owner)
    return {}


def _matrix_order(owner: Any) -> dict[str, Any]:
    return {"public_id": _matrix_first_fill(owner).public_id}


SETUPS |= {
    "prescriptions-refill": _matrix_prescription,
    "prescriptions-order-list": _matrix_orders,
    "prescriptions-order-detail": _matrix_order,
}
# --- end of refills and orders (h11-refill) ---------------------------------------------

# --- ops delivery tracking (h11-ops): ops admins only --------------------------------------
OPS_ONLY = statuses(401, 403, 403, 403, 403, 200)
MATRIX |= {
    ("GET", "ops-deliveries"): OPS_ONLY,
    ("GET", "ops-delivery-counts"): OPS_ONLY,
    ("GET", "ops-delivery-export"): OPS_ONLY,
    ("GET", "ops-delivery-detail"): OPS_ONLY,
    ("POST", "ops-delivery-exception"): OPS_ONLY,
    ("POST", "ops-delivery-replacement"): statuses(401, 403, 403, 403, 403, 201),
    ("POST", "ops-delivery-notes"): statuses(401, 403, 403, 403, 403, 201),
}


def _an_order(owner: Any) -> dict[str, Any]:
    order_for(owner)
    return {}


def _order(owner: Any) -> dict[str, Any]:
    return {"public_id": order_for(owner).public_id}


def _lost_order(owner: Any) -> dict[str, Any]:
    return {"public_id": order_for(owner, status="exception").public_id}


SETUPS |= {
    "ops-deliveries": _an_order,
    "ops-delivery-counts": _an_order,
    "ops-delivery-export": _an_order,
    "ops-delivery-detail": _order,
    "ops-delivery-exception": _order,
    "ops-delivery-replacement": _lost_order,
    "ops-delivery-notes": _order,
}
BODIES |= {
    ("POST", "ops-delivery-exception"): {"reason": "Carrier reports the parcel lost."},
    ("POST", "ops-delivery-replacement"): {"reason": "Lost in transit."},
    ("POST", "ops-delivery-notes"): {"note": "Called the pharmacy.\nThey will ship today."},
}
# --- end ops delivery tracking -------------------------------------------------------------

# --- status webhooks (pharmacies, carriers): signed by the sender only, so an unsigned
# report is 403 for every role, signed in or not (and nothing is stored: test_webhooks).
_REPORT = {"event_id": "evt-1", "status": "compounding", "occurred_at": "2026-12-01T12:00:00Z"}
MATRIX |= {
    ("POST", "prescriptions-webhook-pharmacy"): statuses(403, 403, 403, 403, 403, 403),
    ("POST", "prescriptions-webhook-carrier"): statuses(403, 403, 403, 403, 403, 403),
}
SETUPS |= {
    "prescriptions-webhook-pharmacy": lambda owner: {"pharmacy_id": pharmacy().public_id},
    "prescriptions-webhook-carrier": lambda owner: {"code": carrier("ups").code},
}
BODIES |= {
    ("POST", "prescriptions-webhook-pharmacy"): {**_REPORT, "order_number": "KD-23456789"},
    ("POST", "prescriptions-webhook-carrier"): {**_REPORT, "tracking_number": "1Z999"},
}
# --- end of status webhooks


# --- protocols, PDMP checks, in-person evaluations, prescriptions, catalog (h11-sign) ----
# The `patient` actor (FL) is in the URLs; the `physician` actor may see them (FL), the
# physician licensed elsewhere (NJ only) gets 404, ops admins 403 (never clinical fields).
# Signing as the `physician` actor meets the shape and protocol checks but has no TOTP
# device: 409 prescription_refused. Ids in static bodies are fixed by the setups.
SIGN_MEDICATION_ID = uuid.UUID("6a1c0f52-3b8e-4d0a-9a53-2f8f1b7c0001")
SIGN_VISIT_ID = uuid.UUID("6a1c0f52-3b8e-4d0a-9a53-2f8f1b7c0002")
MATRIX |= {
    ("GET", "prescriptions-patient-protocol"): statuses(401, 403, 403, 404, 200, 403),
    ("POST", "prescriptions-patient-protocol"): statuses(401, 403, 403, 404, 201, 403),
    ("POST", "prescriptions-dose-changes"): statuses(401, 403, 403, 404, 400, 403),
    ("GET", "prescriptions-pdmp-checks"): statuses(401, 403, 403, 404, 200, 403),
    ("POST", "prescriptions-pdmp-checks"): statuses(401, 403, 403, 404, 201, 403),
    ("GET", "prescriptions-in-person-evaluations"): statuses(401, 403, 403, 404, 200, 403),
    ("POST", "prescriptions-in-person-evaluations"): statuses(401, 403, 403, 404, 201, 403),
    ("GET", "prescription-list"): statuses(401, 200, 200, 200, 200, 403),
    ("POST", "prescription-list"): statuses(401, 403, 403, 404, 409, 403),
    ("GET", "prescription-detail"): statuses(401, 200, 404, 404, 200, 403),
    ("POST", "prescription-cancel"): statuses(401, 403, 403, 404, 200, 403),
    ("GET", "prescriptions-medications"): statuses(401, 403, 403, 200, 200, 200),
}


def _sign_medication() -> Any:
    from prescriptions.models import Medication
    from tests.prescriptions.support import medication

    item = medication()
    Medication.objects.filter(pk=item.pk).update(public_id=SIGN_MEDICATION_ID)
    return item


def _sign_prescriber() -> Any:
    from tests.factories import DeaFactory, LicenseFactory, PhysicianFactory

    doctor = PhysicianFactory(last_name="Matrix")
    LicenseFactory(physician=doctor, state="FL")
    DeaFactory(physician=doctor, state="FL")
    return doctor


def _sign_patient_kwargs(owner: Any) -> dict[str, Any]:
    return {"public_id": owner.patient.public_id}


def _sign_protocol(owner: Any) -> dict[str, Any]:
    from datetime import timedelta

    from django.utils import timezone

    from prescriptions.models import DosingProtocol
    from tests.prescriptions.support import protocol_for

    _sign_medication()
    doctor = _sign_prescriber()
    protocol = protocol_for(owner, doctor)
    earlier = timezone.now() - timedelta(days=30)
    DosingProtocol.objects.filter(pk=protocol.pk).update(created_at=earlier)
    return _sign_patient_kwargs(owner)


def _sign_dose_change(owner: Any) -> dict[str, Any]:
    """The visit is held by another physician (setups run before the `physician` actor
    exists): the `physician` actor's dose change names a visit not theirs, 400."""
    from accounts.models import PhysicianProfile
    from scheduling.models import Appointment
    from tests.prescriptions.support import completed_visit

    kwargs = _sign_protocol(owner)
    holder = PhysicianProfile.objects.get(last_name="Matrix")
    visit = completed_visit(owner, holder, days_ago=0)
    Appointment.objects.filter(pk=visit.pk).update(public_id=SIGN_VISIT_ID)
    return kwargs


def _sign_pdmp(owner: Any) -> dict[str, Any]:
    from tests.prescriptions.support import pdmp_check_for

    pdmp_check_for(owner, _sign_prescriber())
    return _sign_patient_kwargs(owner)


def _sign_prescription(owner: Any) -> dict[str, Any]:
    from tests.prescriptions.support import prescription_for

    _sign_medication()
    prescription = prescription_for(owner, _sign_prescriber())
    BODIES[("POST", "prescription-list")]["patient"] = str(owner.patient.public_id)
    return {"public_id": prescription.public_id}


def _sign_list(owner: Any) -> dict[str, Any]:
    _sign_prescription(owner)
    return {}


SETUPS |= {
    "prescriptions-patient-protocol": _sign_protocol,
    "prescriptions-dose-changes": _sign_dose_change,
    "prescriptions-pdmp-checks": _sign_pdmp,
    "prescriptions-in-person-evaluations": _sign_patient_kwargs,
    "prescription-list": _sign_list,
    "prescription-detail": _sign_prescription,
    "prescription-cancel": _sign_prescription,
}
BODIES |= {
    ("POST", "prescriptions-patient-protocol"): {
        "kind": "standard",
        "medication": str(SIGN_MEDICATION_ID),
        "starting_dose_mg": "100",
        "titration_step_mg": "50",
        "min_days_between_steps": 14,
        "ceiling_dose_mg": "300",
        "max_per_session_mg": "200",
        "min_hours_between_sessions": 72,
    },
    ("POST", "prescriptions-dose-changes"): {
        "visit": str(SIGN_VISIT_ID),
        "to_dose_mg": "150",
        "reason": "Tolerating well.",
    },
    ("POST", "prescriptions-pdmp-checks"): {"reference": "EF-1"},
    ("POST", "prescriptions-in-person-evaluations"): {"evaluated_on": "2026-01-05"},
    ("POST", "prescription-list"): {
        "patient": "",  # the `patient` actor's, set by the setup
        "visit": str(SIGN_VISIT_ID),
        "medication": str(SIGN_MEDICATION_ID),
        "quantity": 10,
        "directions": "One tablet per session.",
        "dose_per_session_mg": "100",
        "max_per_session_mg": "100",
        "min_hours_between_sessions": 72,
        "planned_sessions": 10,
        "days_supply": 30,
        "refills": 0,
        "totp_code": "000000",
    },
    ("POST", "prescription-cancel"): {"reason": "Entered in error."},
}
# --- end of h11-sign ---------------------------------------------------------------------


def test_every_prescriptions_endpoint_has_a_row():
    assert not (problems := table_mismatch(MATRIX, "prescriptions")), problems


@pytest.mark.parametrize(("method", "name", "role", "status"), cases(MATRIX))
def test_each_role_gets_the_expected_status(request, method, name, role, status):
    assert_row(request, (method, name), role, status, setups=SETUPS, bodies=BODIES)
