"""The catalog: the compounded formulations prescribed, the partner pharmacies that
fill them and the carriers that deliver them."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from accounts.models import State
from accounts.validators import validate_npi
from core.crypto import EncryptedTextField
from prescriptions.validators import validate_order_url


class DosageForm(models.TextChoices):
    RAPID_DISSOLVE_TABLET = "rapid_dissolve_tablet"
    TROCHE = "troche"
    NASAL_SPRAY = "nasal_spray"


class Route(models.TextChoices):
    SUBLINGUAL = "sublingual"
    BUCCAL = "buccal"
    INTRANASAL = "intranasal"


class Medication(models.Model):
    """One compounded formulation: "Ketamine HCl 100 mg rapid-dissolve tablet".
    `strength_mg` is the ketamine in one `unit` (a tablet, a troche, a spray)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)  # the drug: "Ketamine HCl"
    dosage_form = models.CharField(max_length=32, choices=DosageForm.choices)
    route = models.CharField(max_length=16, choices=Route.choices)
    strength_mg = models.DecimalField(max_digits=7, decimal_places=2)
    unit = models.CharField(max_length=16)  # "tablet", "troche", "spray"
    schedule = models.CharField(max_length=4, default="III")
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["name", "dosage_form", "strength_mg"], name="one_formulation_per_strength"
            ),
            models.CheckConstraint(condition=Q(strength_mg__gt=0), name="strength_positive"),
        ]

    def __str__(self) -> str:
        strength = format(self.strength_mg.normalize(), "f")  # 100.00 -> "100", not "1E+2"
        return f"{self.name} {strength} mg {self.get_dosage_form_display()}"


class Pharmacy(models.Model):
    """A partner 503A compounding pharmacy. It signs its status webhooks with
    `webhook_secret`, and we sign what we send it with the same secret."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    npi = models.CharField(max_length=10, unique=True, validators=[validate_npi])
    dea_number = models.CharField(max_length=9)
    ships_to = ArrayField(models.CharField(max_length=2, choices=State.choices), default=list)
    active = models.BooleanField(default=True)
    # Where the HTTP backend posts orders; the local backend ignores it.
    order_url = models.URLField(blank=True, validators=[validate_order_url])
    webhook_secret = EncryptedTextField()

    class Meta:
        verbose_name_plural = "pharmacies"

    def __str__(self) -> str:
        return self.name


class Carrier(models.Model):
    """A parcel carrier: its status webhooks are signed with `webhook_secret`;
    `tracking_url_template` has a `{tracking_number}` placeholder."""

    code = models.SlugField(max_length=32, unique=True)  # "ups"
    name = models.CharField(max_length=100)
    tracking_url_template = models.URLField(max_length=300)
    webhook_secret = EncryptedTextField()
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name

    def tracking_url(self, tracking_number: str) -> str:
        return self.tracking_url_template.format(tracking_number=tracking_number)
