import pytest
from django.test import Client

from billing.models import WebhookEvent
from tests.billing.support import NOW, customer_for, event, post_signed, subscription_obj
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_webhook_events_are_listed_read_only_in_the_admin(patient):
    customer_for(patient)
    post_signed(
        Client(),
        event(
            "customer.subscription.created", subscription_obj(customer="cus_test_1"), created=NOW
        ),
    )
    admin = UserFactory(role="ops_admin", is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(admin)
    listing = browser.get("/admin/billing/webhookevent/")
    assert listing.status_code == 200
    assert WebhookEvent.objects.get().event_id in listing.content.decode()
    assert browser.get("/admin/billing/webhookevent/add/").status_code == 403
