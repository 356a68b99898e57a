import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from audit.services import (
    ChainHead,
    audit_anchor,
    audit_anchor_check,
    audit_seal_chain,
    audit_verify_chain,
)

logger = logging.getLogger("audit.verify")
# The newest head the anchor task published, kept in Redis (outside the database) so the
# daily check can tell that the newest rows were deleted, which the chain alone cannot.
LAST_ANCHOR_KEY = "audit:last-anchor"


@shared_task(ignore_result=True)
def seal_audit_chain() -> int:
    return audit_seal_chain()


@shared_task(ignore_result=True)
def anchor_audit_chain() -> str:
    head = audit_anchor()
    if head is None:
        return ""
    cache.set(LAST_ANCHOR_KEY, str(head), timeout=None)
    return str(head)


@shared_task(ignore_result=True)
def verify_audit_chain() -> bool:
    """Beat runs this daily: the chain, the last anchor we published and those configured
    in AUDIT_VERIFY_ANCHORS. A failure is logged at ERROR (alerting watches for it)."""
    report = audit_verify_chain()
    ok = report.ok
    if not ok:
        logger.error(
            "audit chain broken at seq %s (event id %s)",
            report.first_broken_seq,
            report.first_broken_id,
        )
    texts = [*settings.AUDIT_VERIFY_ANCHORS, cache.get(LAST_ANCHOR_KEY) or ""]
    for text in filter(None, texts):
        try:
            problem = audit_anchor_check(ChainHead.parse(text))
        except ValueError as error:
            problem = f"anchor {text!r} unreadable: {error}"
        if problem:
            logger.error("audit anchor check failed: %s", problem)
            ok = False
    return ok
