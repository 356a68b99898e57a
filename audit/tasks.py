from celery import shared_task

from audit.services import audit_anchor, audit_seal_chain


@shared_task(ignore_result=True)
def seal_audit_chain() -> int:
    return audit_seal_chain()


@shared_task(ignore_result=True)
def anchor_audit_chain() -> str:
    head = audit_anchor()
    return str(head) if head else ""
