"""User.email is encrypted at rest; accounts are found by the keyed hash of the normalized
address, so every sign-in and lookup works whatever the case or spacing typed."""

from __future__ import annotations

import io

import pyotp
import pytest
import time_machine
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from accounts.models import User, email_lookup_hash
from accounts.services.credentials import credentialing_grant
from billing.models import BillingCustomer, LocalGatewayObject
from core.crypto import decrypt
from tests.accounts.support import STRONG, enrolled_admin, enrolled_staff, login
from tests.actors import client_for
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ADDRESS = "jordan.rivers@example.test"
VARIANTS = [
    "jordan.rivers@example.test",
    "Jordan.Rivers@Example.TEST",
    "  JORDAN.RIVERS@example.test \t",
]


def raw_row(user_id: int) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT email, email_hash FROM {User._meta.db_table} WHERE id = %s",
            [user_id],
        )
        return cursor.fetchone()


def test_the_column_holds_a_token_not_the_address():
    user = User.objects.create_user("  Jordan.Rivers@Example.test ", PASSWORD, role="patient")
    token, digest = raw_row(user.pk)
    assert "jordan" not in token.lower() and "example" not in token.lower()
    assert decrypt(token) == ADDRESS  # stored normalized
    assert digest == email_lookup_hash(ADDRESS) and ADDRESS not in digest
    assert User.objects.get(pk=user.pk).email == ADDRESS


@pytest.mark.parametrize("typed", VARIANTS)
def test_sign_in_with_any_case_or_spacing(api, typed):
    UserFactory(email=ADDRESS)
    assert login(api, typed).status_code == 200


def test_a_case_variant_does_not_register_a_second_account(api):
    UserFactory(email=ADDRESS)
    typed = {"email": "JORDAN.Rivers@example.test ", "password": STRONG}
    assert api.post("/api/auth/register", typed, format="json").status_code == 202
    assert User.objects.count() == 1


def test_a_filter_on_the_encrypted_column_is_refused_not_silently_empty():
    # A ciphertext never equals a fresh encryption of the same address: an ORM filter on
    # `email` would find nothing without a word. It fails loudly instead.
    with pytest.raises(FieldError):
        list(User.objects.filter(email=ADDRESS))
    with pytest.raises(FieldError):
        list(User.objects.filter(email__iexact=ADDRESS))


def test_the_signed_in_user_reads_the_address_not_the_token(patient):
    # The request path loads the user with hand-written SQL (accounts.services.sessions).
    assert client_for(patient).get("/api/me").json()["email"] == patient.email


def test_the_payment_gateway_gets_the_address(patient):
    assert client_for(patient).post("/api/billing/checkout").status_code == 200
    customer = BillingCustomer.objects.get(patient__user=patient)
    gateway_copy = LocalGatewayObject.objects.get(object_id=customer.gateway_customer_id)
    assert gateway_copy.data["email"] == patient.email


def test_commands_find_the_account_by_any_case(patient):
    staff = UserFactory(email="Ops.Lead@example.test", role="ops_admin", is_staff=True)
    call_command("grant_credentialing", "  OPS.LEAD@example.test", stdout=io.StringIO())
    assert User.objects.get(pk=staff.pk).has_perm("accounts.credentialing")
    out = io.StringIO()
    call_command("staff_invite", "OPS.lead@EXAMPLE.test", role="ops_admin", stdout=out)
    assert User.objects.filter(role="ops_admin").count() == 1


def test_admin_search_is_by_exact_address_through_the_hash_or_public_id():
    _, browser = enrolled_staff("ops_admin")
    target = UserFactory(email=ADDRESS)
    found = browser.get("/admin/accounts/user/", {"q": " Jordan.Rivers@EXAMPLE.test"})
    assert found.status_code == 200
    assert list(found.context["cl"].result_list) == [target]
    partial = browser.get("/admin/accounts/user/", {"q": "jordan"})
    assert partial.status_code == 200 and list(partial.context["cl"].result_list) == []
    by_id = browser.get("/admin/accounts/user/", {"q": str(target.public_id)})
    assert list(by_id.context["cl"].result_list) == [target]


def test_rotate_phi_keys_reencrypts_the_address(settings):
    user = UserFactory(email=ADDRESS)
    before, digest = raw_row(user.pk)
    old_key, new_key = settings.FIELD_ENCRYPTION_KEYS[0], Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_phi_keys", stdout=io.StringIO())
    after, same_digest = raw_row(user.pk)
    assert after != before and same_digest == digest
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key is retired
    assert decrypt(after) == ADDRESS
    assert User.objects.with_email(ADDRESS).get().email == ADDRESS


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_existing_rows_in_place_and_back():
    before, target = (
        [("accounts", "0005_user_email_verified_at")],
        [("accounts", "0006_user_email_encrypted")],
    )
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        OldUser = executor.loader.project_state(before).apps.get_model("accounts", "User")
        for n in range(3):
            OldUser.objects.create(email=f"old{n}@example.test", role="patient", password="!")
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(target)
        for n in range(3):
            user = User.objects.with_email(f"OLD{n}@example.test").get()
            token, _ = raw_row(user.pk)
            assert "example" not in token and decrypt(token) == f"old{n}@example.test"
        # Backwards: the addresses come back in the clear, the hash column goes.
        executor = MigrationExecutor(connection)
        executor.migrate(before)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT email FROM {User._meta.db_table} ORDER BY email")
            assert [r[0] for r in cursor.fetchall()] == [f"old{n}@example.test" for n in range(3)]
    finally:
        # Back to every app's latest migration, not only accounts' target: migrating
        # accounts back unapplied every app that depends on it (prescriptions' tables were
        # missing for the rest of the worker's tests).
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_admin_sign_in_with_a_case_variant():
    user, secret = enrolled_admin()
    browser = Client()
    with time_machine.travel(timezone.now(), tick=False):
        response = browser.post(
            "/admin/login/",
            {
                "username": f" {user.email.upper()} ",
                "password": PASSWORD,
                "otp_code": pyotp.TOTP(secret).now(),
            },
        )
    assert response.status_code == 302


def test_the_admin_refuses_an_address_another_account_has():
    actor, browser = enrolled_staff("ops_admin")
    credentialing_grant(user=actor, granted=True)
    UserFactory(email=ADDRESS)
    target = UserFactory()
    form = {"email": ADDRESS.upper(), "role": target.role, "is_active": "on"}
    response = browser.post(f"/admin/accounts/user/{target.pk}/change/", form)
    assert response.status_code == 200  # the form again, with the error
    assert "Another account has this email address." in response.content.decode()
    assert User.objects.get(pk=target.pk).email != ADDRESS


def test_bulk_created_accounts_get_their_hash_too():
    # Benchmarks and data loads use bulk_create, which skips save(): the field computes it.
    User.objects.bulk_create(
        [User(email=f"Bulk{n}@Example.test", role="patient", password="!") for n in range(2)]
    )
    assert User.objects.with_email("bulk1@example.test").exists()
    assert User.objects.with_email(" BULK0@example.TEST").exists()
