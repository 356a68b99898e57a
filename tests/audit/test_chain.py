"""The audit log: append-only rows, sealed later into a hash chain that can be verified."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audit import context
from audit.models import AuditAction, AuditEvent
from audit.services import (
    GENESIS_HASH,
    PhiRead,
    audit_event_digest,
    audit_phi_read,
    audit_phi_reads,
    audit_reads_params,
    audit_reads_sql,
    audit_record,
    audit_seal_chain,
    audit_verify_chain,
    audit_write,
)
from audit.tasks import seal_audit_chain

APPEND_ONLY = "append-only"


def record(n: int = 1, *, name: str = "obj") -> None:
    for i in range(n):
        audit_record(
            actor=None, action=AuditAction.READ, object_type="test.thing", object_id=f"{name}-{i}"
        )


def tamper(sql: str, params: list) -> None:
    """Change the table behind the trigger's back, as someone with owner rights could."""
    with connection.cursor() as cursor:
        # ALTER TABLE refuses while deferred FK checks of this test's inserts are pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def run_audit_verify(*args: str) -> str:
    out = StringIO()
    call_command("audit_verify", *args, stdout=out)
    return out.getvalue()


# --- recording ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_record_inserts_an_unsealed_row(patient):
    audit_record(
        actor=patient,
        action=AuditAction.LOGIN,
        object_type="accounts.user",
        object_id=str(patient.public_id),
        detail={"surface": "api"},
    )
    event = AuditEvent.objects.get()
    assert event.seq is None
    assert event.hash == ""
    assert event.prev_hash == ""
    assert event.actor == patient
    assert event.actor_role == "patient"
    assert event.action == "login"
    assert event.detail == {"surface": "api"}


@pytest.mark.django_db
def test_write_names_the_object_by_type_public_id_and_patient(patient, physician):
    audit_write(patient.patient, actor=physician.user, action=AuditAction.UPDATE)
    audit_write(patient, actor=patient, action=AuditAction.READ, detail={"via": "test"})
    record, read = AuditEvent.objects.order_by("id")
    assert (record.object_type, record.object_id) == (
        "patients.patient",
        str(patient.patient.public_id),
    )
    assert record.patient_id == patient.patient.public_id
    assert (record.actor, record.actor_role) == (physician.user, "physician")
    # A model without audit_patient_id (a user account) names no patient.
    assert (read.object_type, read.object_id, read.patient_id) == (
        "accounts.user",
        str(patient.public_id),
        None,
    )
    assert read.detail == {"via": "test"}


@pytest.mark.django_db
def test_phi_read_records_one_row_per_object(patient, other_patient, django_assert_num_queries):
    records = [patient.patient, other_patient.patient]
    with django_assert_num_queries(1):
        audit_phi_read(actor=patient, objects=records)
    events = AuditEvent.objects.order_by("id")
    assert [(e.object_type, e.object_id, e.patient_id) for e in events] == [
        ("patients.patient", str(r.public_id), r.public_id) for r in records
    ]
    assert {e.action for e in events} == {"read"}
    assert all(e.seq is None for e in events)


@pytest.mark.django_db
def test_phi_read_uses_patient_id_of_when_given(patient, other_patient):
    audit_phi_read(
        actor=patient,
        objects=[patient.patient],
        patient_id_of=lambda _obj: other_patient.patient.public_id,
    )
    assert AuditEvent.objects.get().patient_id == other_patient.patient.public_id


@pytest.mark.django_db
@pytest.mark.parametrize("ip", ["203.0.113.9", None])
def test_phi_reads_write_every_column_of_each_row_in_one_statement(
    patient, other_patient, ip, django_assert_num_queries
):
    """The batch statement binds what the rows share once and what differs as arrays: each
    row must still come out whole, in order, with NULL patients and addresses kept."""
    reads = [
        PhiRead("patients.intake", patient.patient.public_id, patient.patient.public_id),
        PhiRead("patients.patient", str(other_patient.patient.public_id), None),
        PhiRead("patients.trend", other_patient.patient.public_id, None, {"moods": 3}),
    ]
    token = context.activate(context.RequestContext("req-12345678", ip, "agent/1.0"))
    try:
        with django_assert_num_queries(1):
            audit_phi_reads(actor=patient, reads=reads)
    finally:
        context.reset(token)
    events = list(AuditEvent.objects.order_by("id"))
    assert [(e.object_type, e.object_id, e.patient_id) for e in events] == [
        (read.object_type, str(read.object_id), read.patient_id) for read in reads
    ]
    for e in events:
        assert (e.actor_id, e.actor_role, e.action, e.outcome) == (
            patient.pk,
            "patient",
            "read",
            "success",
        )
        assert (e.request_id, e.ip, e.user_agent) == ("req-12345678", ip, "agent/1.0")
        assert (e.seq, e.prev_hash, e.hash) == (None, "", "")
    assert [e.detail for e in events] == [{}, {}, {"moods": 3}]
    assert len({e.occurred_at for e in events}) == 1
    audit_seal_chain()
    assert audit_verify_chain().ok


def read_and_audit(actor, rows: list[tuple[str, object]]) -> list[tuple[str]]:
    """A statement that reads `rows` (object id, patient id) and audits each, as the
    hand-written selectors do."""
    params, commit_async = audit_reads_params(actor=actor, object_type="patients.intake")
    values = ", ".join(f"(%(o{n})s, %(p{n})s::uuid)" for n in range(len(rows)))
    for n, (object_id, patient_id) in enumerate(rows):
        params.update({f"o{n}": object_id, f"p{n}": patient_id})
    audit = audit_reads_sql("r", "r.object_id", "r.patient_id", commit_async=commit_async)
    sql = (
        f"WITH r(object_id, patient_id) AS (VALUES {values}), audited AS ({audit}) "
        "SELECT r.object_id FROM r ORDER BY r.object_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@pytest.mark.django_db
def test_reads_sql_audits_every_row_the_statement_reads(patient, django_assert_num_queries):
    one, two = patient.patient.public_id, uuid.uuid4()
    token = context.activate(context.RequestContext("req-87654321", "198.51.100.7", "ua/2"))
    try:
        with django_assert_num_queries(1):
            assert read_and_audit(patient, [("a", one), ("b", two)]) == [("a",), ("b",)]
    finally:
        context.reset(token)
    events = AuditEvent.objects.order_by("object_id")
    assert [(e.object_type, e.object_id, e.patient_id) for e in events] == [
        ("patients.intake", "a", one),
        ("patients.intake", "b", two),
    ]
    for e in events:
        assert (e.actor_id, e.actor_role, e.action, e.outcome, e.detail) == (
            patient.pk,
            "patient",
            "read",
            "success",
            {},
        )
        assert (e.request_id, e.ip, e.user_agent) == ("req-87654321", "198.51.100.7", "ua/2")
        assert e.seq is None
    audit_seal_chain()
    assert audit_verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_reads_sql_commits_asynchronously_without_leaking_the_setting(patient):
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO on")  # the test server runs with it off
    read_and_audit(patient, [("a", patient.patient.public_id)])
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
    assert AuditEvent.objects.filter(action="read").count() == 1
    with transaction.atomic():  # inside the caller's transaction: its commit decides
        _, commit_async = audit_reads_params(actor=patient, object_type="x")
        assert commit_async is False


@pytest.mark.django_db
def test_phi_reads_of_nothing_write_nothing(patient, django_assert_num_queries):
    with django_assert_num_queries(0):
        audit_phi_reads(actor=patient, reads=[])


# --- sealing and verifying ----------------------------------------------------------------


@pytest.mark.django_db
def test_seal_numbers_rows_in_id_order_and_chains_hashes():
    record(5)
    assert audit_seal_chain() == 5
    events = list(AuditEvent.objects.order_by("id"))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    for previous, event in itertools.pairwise(events):
        assert event.prev_hash == previous.hash
    assert len({e.hash for e in events}) == 5


@pytest.mark.django_db
def test_verify_intact_chain():
    record(3)
    audit_seal_chain()
    record(2)
    report = audit_verify_chain()
    assert report.ok
    assert report.sealed == 3
    assert report.unsealed == 2
    assert report.first_broken_seq is None


@pytest.mark.django_db
def test_seal_in_small_batches_gives_the_same_chain():
    record(7)
    assert audit_seal_chain(batch_size=2) == 7
    assert list(AuditEvent.objects.order_by("id").values_list("seq", flat=True)) == list(
        range(1, 8)
    )
    assert audit_verify_chain().ok


@pytest.mark.django_db
def test_row_recorded_after_a_seal_gets_the_next_seq():
    record(2)
    audit_seal_chain()
    record(1)
    assert audit_seal_chain() == 1
    assert AuditEvent.objects.order_by("-id").first().seq == 3
    report = audit_verify_chain()
    assert report.ok
    assert report.sealed == 3


@pytest.mark.django_db
def test_seal_with_nothing_pending_seals_nothing():
    record(2)
    audit_seal_chain()
    assert audit_seal_chain() == 0


@pytest.mark.django_db
def test_seal_task_run_twice_seals_once():
    record(3)
    assert seal_audit_chain() == 3
    assert seal_audit_chain() == 0
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2, 3]


# --- the append-only trigger --------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"object_id": "someone-else"},
        {"outcome": "denied"},
        {"detail": {"forged": True}},
        {"ip": "10.9.9.9"},
        {"request_id": "forged-request"},
    ],
)
def test_update_of_a_sealed_row_is_refused(change):
    record(1)
    audit_seal_chain()
    with pytest.raises(DatabaseError, match=APPEND_ONLY), transaction.atomic():
        AuditEvent.objects.update(**change)


@pytest.mark.django_db
@pytest.mark.parametrize("change", [{"object_id": "someone-else"}, {"detail": {"forged": True}}])
def test_update_of_an_unsealed_row_is_refused(change):
    record(1)
    with pytest.raises(DatabaseError, match=APPEND_ONLY), transaction.atomic():
        AuditEvent.objects.update(**change)


@pytest.mark.django_db
def test_sealing_while_changing_a_field_is_refused():
    record(1)
    with pytest.raises(DatabaseError, match=APPEND_ONLY), transaction.atomic():
        AuditEvent.objects.update(seq=1, hash="f" * 64, object_id="someone-else")


@pytest.mark.django_db
def test_sealing_without_a_hash_is_refused():
    record(1)
    with pytest.raises(DatabaseError, match=APPEND_ONLY), transaction.atomic():
        AuditEvent.objects.update(seq=1)


@pytest.mark.django_db
def test_resealing_a_sealed_row_is_refused():
    record(1)
    audit_seal_chain()
    with pytest.raises(DatabaseError, match=APPEND_ONLY), transaction.atomic():
        AuditEvent.objects.update(seq=99, prev_hash="0" * 64, hash="f" * 64)
    assert AuditEvent.objects.get().seq == 1


@pytest.mark.django_db
def test_unsealing_a_sealed_row_is_refused():
    record(1)
    audit_seal_chain()
    with pytest.raises(DatabaseError, match=APPEND_ONLY), transaction.atomic():
        AuditEvent.objects.update(seq=None, prev_hash="", hash="")


@pytest.mark.django_db
@pytest.mark.parametrize("sealed", [False, True])
def test_delete_is_refused(sealed):
    record(1)
    if sealed:
        audit_seal_chain()
    with pytest.raises(DatabaseError, match=APPEND_ONLY), transaction.atomic():
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == 1


# --- detecting tampering ------------------------------------------------------------------


@pytest.mark.django_db
def test_edited_sealed_row_breaks_the_chain_at_its_seq():
    record(5)
    audit_seal_chain()
    target = AuditEvent.objects.get(seq=3)
    tamper("UPDATE audit_auditevent SET object_id = %s WHERE id = %s", ["forged", target.pk])
    report = audit_verify_chain()
    assert not report.ok
    assert report.first_broken_seq == 3
    assert report.first_broken_id == target.pk
    assert report.sealed == 2


@pytest.mark.django_db
def test_deleted_sealed_row_breaks_the_chain_at_the_gap():
    record(5)
    audit_seal_chain()
    tamper("DELETE FROM audit_auditevent WHERE seq = %s", [2])
    report = audit_verify_chain()
    assert report.first_broken_seq == 3


@pytest.mark.django_db
def test_rehashed_row_still_breaks_the_chain_at_the_next_row():
    """Recomputing an edited row's own hash moves the break to the row after it."""
    record(4)
    audit_seal_chain()
    target = AuditEvent.objects.get(seq=2)
    target.object_id = "forged"
    tamper(
        "UPDATE audit_auditevent SET object_id = %s, hash = %s WHERE id = %s",
        ["forged", audit_event_digest(target.prev_hash, target), target.pk],
    )
    assert audit_verify_chain().first_broken_seq == 3


# --- the audit_verify command -------------------------------------------------------------


@pytest.mark.django_db
def test_command_succeeds_on_intact_chain_and_reports_unsealed():
    record(3)
    audit_seal_chain()
    record(2)
    out = run_audit_verify()
    assert "sealed rows verified: 3" in out
    assert "rows not yet sealed: 2" in out
    assert "audit chain intact" in out
    assert AuditEvent.objects.filter(seq__isnull=True).count() == 2


@pytest.mark.django_db
def test_command_with_seal_seals_pending_rows_first():
    record(4)
    out = run_audit_verify("--seal")
    assert "sealed 4 pending rows" in out
    assert "sealed rows verified: 4" in out
    assert "rows not yet sealed: 0" in out


@pytest.mark.django_db
def test_command_fails_naming_the_broken_seq():
    record(4)
    audit_seal_chain()
    target = AuditEvent.objects.get(seq=2)
    tamper("UPDATE audit_auditevent SET outcome = %s WHERE id = %s", ["denied", target.pk])
    with pytest.raises(CommandError, match=r"seq 2\b"):
        run_audit_verify()


# --- concurrency (real threads, real PostgreSQL transactions) ------------------------------


def _in_thread(target, errors: list[BaseException]):
    def run():
        try:
            target()
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)
        finally:
            connection.close()

    return threading.Thread(target=run)


@pytest.mark.django_db(transaction=True)
def test_late_committing_row_is_sealed_later_with_a_later_seq():
    inserted = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def slow_writer():
        with transaction.atomic():
            record(1, name="slow")
            inserted.set()
            release.wait(10)

    writer = _in_thread(slow_writer, errors)
    writer.start()
    assert inserted.wait(10)
    record(1, name="fast")
    assert audit_seal_chain() == 1  # the slow writer's row is not committed yet
    release.set()
    writer.join(10)
    assert audit_seal_chain() == 1

    assert errors == []
    slow = AuditEvent.objects.get(object_id="slow-0")
    fast = AuditEvent.objects.get(object_id="fast-0")
    assert slow.id < fast.id
    assert (fast.seq, slow.seq) == (1, 2)
    assert audit_verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_sealers_give_one_contiguous_chain():
    writers, rows_each = 6, 25
    errors: list[BaseException] = []
    done_writing = threading.Event()

    def writer(number: int):
        def write():
            for i in range(rows_each):
                if i % 5 == 0:
                    # Some rows commit late: their ids are taken before others' that commit first.
                    with transaction.atomic():
                        record(1, name=f"w{number}-{i}")
                        time.sleep(0.005)
                else:
                    record(1, name=f"w{number}-{i}")

        return write

    def sealer():
        while not done_writing.is_set():
            audit_seal_chain(batch_size=7)
        audit_seal_chain(batch_size=7)

    sealers = [_in_thread(sealer, errors) for _ in range(2)]
    writer_threads = [_in_thread(writer(n), errors) for n in range(writers)]
    for thread in sealers + writer_threads:
        thread.start()
    for thread in writer_threads:
        thread.join(60)
    done_writing.set()
    for thread in sealers:
        thread.join(60)
    audit_seal_chain()

    assert errors == []
    total = writers * rows_each
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert len(seqs) == total
    assert seqs == list(range(1, total + 1))
    assert AuditEvent.objects.filter(seq__isnull=True).count() == 0
    report = audit_verify_chain()
    assert report.ok
    assert report.sealed == total


@pytest.mark.django_db(transaction=True)
def test_async_commit_for_a_read_event_never_leaks_to_later_statements(patient):
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO on")  # the test server runs with it off
    audit_write(patient, actor=patient, action=AuditAction.READ)
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
    assert AuditEvent.objects.filter(action="read").count() == 1


@pytest.mark.django_db(transaction=True)
def test_async_commit_for_a_batch_of_reads_never_leaks_to_later_statements(patient):
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO on")  # the test server runs with it off
    audit_phi_read(actor=patient, objects=[patient.patient, patient.patient])
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
    assert AuditEvent.objects.filter(action="read").count() == 2


@pytest.mark.django_db(transaction=True)
def test_read_event_inside_a_writing_transaction_commits_synchronously(patient):
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO on")  # the test server runs with it off
    with transaction.atomic():
        audit_write(patient, actor=patient, action=AuditAction.READ)
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"


@pytest.mark.django_db
def test_the_chain_is_keyed_so_it_cannot_be_recomputed_without_the_key(patient, settings):
    audit_write(patient, actor=patient, action=AuditAction.READ)
    audit_seal_chain()
    assert audit_verify_chain().ok
    settings.AUDIT_CHAIN_KEY = "someone-elses-key"
    assert audit_verify_chain().first_broken_seq == 1


# --- anchoring the head outside the database -------------------------------------------------


@pytest.mark.django_db
def test_the_anchor_task_logs_the_chain_head(caplog):
    from audit.tasks import anchor_audit_chain

    assert anchor_audit_chain.delay().get() == ""  # nothing sealed yet: nothing to publish
    record(3)
    audit_seal_chain()
    head = AuditEvent.objects.get(seq=3)
    with caplog.at_level("WARNING", logger="audit.anchor"):
        assert anchor_audit_chain.delay().get() == f"3:{head.hash}"
    assert f"audit chain head 3:{head.hash}" in caplog.text


@pytest.mark.django_db
def test_deleting_the_newest_rows_is_caught_only_with_a_published_anchor():
    record(5)
    audit_seal_chain()
    anchor = AuditEvent.objects.get(seq=5)
    tamper("DELETE FROM audit_auditevent WHERE seq >= %s", [4])
    assert "audit chain intact" in run_audit_verify()  # the chain alone cannot tell
    with pytest.raises(CommandError, match=r"seq 5 of the anchor is gone"):
        run_audit_verify("--anchor", f"5:{anchor.hash}")


@pytest.mark.django_db
def test_an_anchor_that_still_holds_passes_and_a_rewritten_one_fails():
    record(3)
    audit_seal_chain()
    head = AuditEvent.objects.get(seq=3)
    assert "anchor 3 present" in run_audit_verify("--anchor", f"3:{head.hash}")
    with pytest.raises(CommandError, match="rewritten"):
        run_audit_verify("--anchor", f"3:{'f' * 64}")
    with pytest.raises(CommandError, match="SEQ:HASH"):
        run_audit_verify("--anchor", "three")


@pytest.mark.django_db
def test_batch_reads_accept_patient_ids_as_strings_or_uuids(patient):
    patient_id = uuid.uuid4()
    reads = [PhiRead("a.thing", "x", patient_id), PhiRead("a.thing", "y", str(patient_id))]
    audit_phi_reads(actor=patient, reads=reads)
    assert set(AuditEvent.objects.values_list("patient_id", flat=True)) == {patient_id}
