"""The CELERY_BEAT_SCHEDULE setting: every periodic task, each interval from the
environment. Tasks take no arguments: they find their work in the database."""

from __future__ import annotations

from typing import Any


def beat_schedule(
    env: Any, *, dispatch_interval: float, local_gateway: bool, local_pharmacy: bool
) -> dict[str, Any]:
    def every(task: str, interval_setting: str, default_seconds: float) -> dict[str, Any]:
        return {"task": task, "schedule": env.float(interval_setting, default=default_seconds)}

    schedule = {
        "notifications-dispatch": {
            "task": "notifications.tasks.dispatch_due_messages",
            "schedule": dispatch_interval,
        },
        "patients-questionnaire-reminders": every(
            "patients.tasks.schedule_questionnaire_reminders",
            "QUESTIONNAIRE_REMINDER_INTERVAL_SECONDS",
            3600.0,
        ),
        "billing-sync-memberships": every(
            "billing.tasks.sync_memberships", "BILLING_SYNC_INTERVAL_SECONDS", 86400.0
        ),
        "audit-seal-chain": every(
            "audit.tasks.seal_audit_chain", "AUDIT_SEAL_INTERVAL_SECONDS", 10.0
        ),
        "audit-anchor-chain": every(
            "audit.tasks.anchor_audit_chain", "AUDIT_ANCHOR_INTERVAL_SECONDS", 3600.0
        ),
        # Logs an ERROR when the chain or an anchor fails.
        "audit-verify-chain": every(
            "audit.tasks.verify_audit_chain", "AUDIT_VERIFY_INTERVAL_SECONDS", 86400.0
        ),
        "accounts-purge-rotated-refresh-tokens": every(
            "accounts.tasks.purge_rotated_refresh_tokens", "TOKEN_PURGE_INTERVAL_SECONDS", 86400.0
        ),
        # Visits never started become no-shows; the day-after follow-up texts; nudges to
        # book a check-in that has come due.
        "scheduling-mark-no-shows": every(
            "scheduling.tasks.mark_no_shows", "SCHEDULING_NO_SHOW_INTERVAL_SECONDS", 300.0
        ),
        # Visits started but never completed: their physician is asked to complete them.
        "scheduling-unfinished-visits": every(
            "scheduling.tasks.unfinished_visits_reminders",
            "UNFINISHED_VISIT_INTERVAL_SECONDS",
            900.0,
        ),
        # Booked visits whose physician's license or DEA/CDS registration lapsed before
        # them: ops admins alerted once per visit.
        "scheduling-visits-without-authority": every(
            "scheduling.tasks.alert_visits_without_authority",
            "VISIT_AUTHORITY_INTERVAL_SECONDS",
            86400.0,
        ),
        "scheduling-follow-ups": every(
            "scheduling.tasks.follow_ups_schedule", "FOLLOW_UP_SCHEDULE_INTERVAL_SECONDS", 300.0
        ),
        "scheduling-check-in-nudges": every(
            "scheduling.tasks.check_in_nudges_schedule", "CHECK_IN_NUDGE_INTERVAL_SECONDS", 3600.0
        ),
        # Delivery orders not shipped or not delivered in time: flagged, ops admins alerted.
        "prescriptions-flag-overdue-orders": every(
            "prescriptions.tasks.flag_overdue_orders", "DELIVERY_OVERDUE_INTERVAL_SECONDS", 900.0
        ),
        # The rows the orders' triggers append to the delivery tally, folded together.
        "prescriptions-fold-delivery-tally": every(
            "prescriptions.tasks.fold_delivery_tally", "DELIVERY_TALLY_FOLD_INTERVAL_SECONDS", 60.0
        ),
        # The pharmacy hand-off outbox (also sent on commit; this retries and reclaims).
        "prescriptions-pharmacy-submissions": every(
            "prescriptions.tasks.dispatch_pharmacy_submissions",
            "PHARMACY_DISPATCH_INTERVAL_SECONDS",
            60.0,
        ),
    }
    if local_pharmacy:
        # The local pharmacy playing pharmacy and carrier (`make run`).
        schedule["prescriptions-local-pharmacy"] = every(
            "prescriptions.tasks.play_local_pharmacy", "LOCAL_PHARMACY_PLAY_INTERVAL_SECONDS", 15.0
        )
    if local_gateway:
        # The local gateway's webhook deliveries (also enqueued on commit; this retries them).
        schedule["billing-deliver-local-events"] = {
            "task": "billing.tasks.deliver_local_events",
            "schedule": 30.0,
        }
    return schedule
