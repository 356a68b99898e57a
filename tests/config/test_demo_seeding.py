"""Demo data (known passwords, free test cards) never reaches a production database."""

from __future__ import annotations

import io

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


@pytest.mark.django_db
def test_seed_demo_makes_the_catalog_pharmacies_carriers_and_a_demo_order_once(settings):
    from prescriptions.models import (
        Carrier,
        DeliveryOrder,
        Medication,
        Pharmacy,
        PharmacySubmission,
        Prescription,
    )

    settings.PHARMACY_BACKEND = "prescriptions.pharmacy.local.LocalPharmacy"
    call_command("seed_demo", stdout=io.StringIO())
    forms = sorted(Medication.objects.values_list("dosage_form", "strength_mg"))
    assert [(form, int(mg)) for form, mg in forms] == [
        ("nasal_spray", 10),
        ("rapid_dissolve_tablet", 50),
        ("rapid_dissolve_tablet", 100),
        ("rapid_dissolve_tablet", 150),
        ("troche", 100),
        ("troche", 200),
    ]
    assert sorted(sorted(p.ships_to) for p in Pharmacy.objects.all()) == [["FL"], ["FL", "NJ"]]
    carriers = {c.code: c for c in Carrier.objects.all()}
    assert set(carriers) == {"ups", "fedex", "usps"}
    assert "1Z9" in carriers["ups"].tracking_url("1Z9")
    secrets = [p.webhook_secret for p in Pharmacy.objects.all()]
    assert len(set(secrets)) == 2 and all(len(s) > 30 for s in secrets)
    order = DeliveryOrder.objects.get()
    assert (order.kind, order.fill_number, order.status) == ("first_fill", 0, "created")
    assert PharmacySubmission.objects.get(order=order).status == "pending"

    call_command("seed_demo", stdout=io.StringIO())  # again: nothing new
    assert (Medication.objects.count(), Pharmacy.objects.count(), Carrier.objects.count()) == (
        6,
        2,
        3,
    )
    assert (Prescription.objects.count(), DeliveryOrder.objects.count()) == (1, 1)
