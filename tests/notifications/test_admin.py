"""The outbox in the admin: no recipient, no dedupe key; deletes are audited."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from notifications.models import Message
from tests.accounts.support import enrolled_staff
from tests.factories import UserFactory
from tests.notifications.support import make_message

pytestmark = pytest.mark.django_db

OUTBOX = "/admin/notifications/message/"


def test_outbox_shows_neither_recipient_nor_dedupe_key():
    _, browser = enrolled_staff("ops_admin")
    recipient = UserFactory()
    message = make_message(recipient, "sent")
    for url in (OUTBOX, f"{OUTBOX}{message.pk}/change/"):
        page = browser.get(url).content.decode()
        assert message.template_key in page
        assert message.dedupe_key not in page
        assert recipient.email not in page
        assert str(recipient.public_id) not in page


def test_deleting_messages_writes_delete_events():
    admin, browser = enrolled_staff("ops_admin")
    one, two, three = (make_message(UserFactory(), "failed") for _ in range(3))
    assert browser.post(f"{OUTBOX}{one.pk}/delete/", {"post": "yes"}).status_code == 302
    bulk = {"action": "delete_selected", "_selected_action": [two.pk, three.pk], "post": "yes"}
    assert browser.post(OUTBOX, bulk).status_code == 302
    assert not Message.objects.exists()
    deleted = AuditEvent.objects.filter(action="delete", actor=admin)
    assert set(deleted.values_list("object_id", flat=True)) == {
        str(m.public_id) for m in (one, two, three)
    }
