"""The ops list's hand-written page (prescriptions.selectors.tracking_page) restates who
sees which orders (scoping.orders_visible_to: an ops admin, every order), the status and
state filters (api.tracking.DeliveryFilter) and the list's order (tracking.ORDERING).
Here each is held to its definition: every status alone, two, all of them and none x
either state and none x pages (first, middle, past the end, one page for all), over
orders in every status in both states, with created_at ties (the id breaks them) and
orders with and without a carrier; and the audit events each writes. Through the API, a
usual query answers what the FilterSet answers, in one statement after the session."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from prescriptions.api.tracking import DeliveryFilter
from prescriptions.models import DeliveryOrder, OrderStatus
from prescriptions.selectors.scoping import orders_visible_to
from prescriptions.selectors.tracking import tracking_page_audited
from prescriptions.selectors.tracking_page import tracking_page_fast_audited
from tests.actors import client_for
from tests.prescriptions.support import carrier
from tests.prescriptions.support_ops import order_for, prescriber

pytestmark = pytest.mark.django_db

URL = "/api/prescriptions/deliveries"
STATUS_CHOICES = [
    None,
    [],  # as DeliveryFilter reads no status: no filter
    *([status] for status in OrderStatus.values),
    ["shipped", "out_for_delivery"],
    list(OrderStatus.values),
]
STATE_CHOICES = [None, "FL", "NJ"]
PAGES = [(0, 3), (3, 3), (0, 100), (90, 10)]  # first, middle, all, past the end


@pytest.fixture
def orders(patient, other_patient):
    """Every status in FL and NJ; every third order without a carrier; created_at in
    pairs so that ties are everywhere."""
    doctor, ups, now = prescriber(), carrier(), timezone.now()
    made = []
    cases = itertools.product(OrderStatus.values, (patient, other_patient))
    for n, (status, who) in enumerate(cases):
        made.append(
            order_for(
                who,
                doctor,
                status=status,
                carrier=None if n % 3 == 0 else ups,
                tracking_number="" if n % 3 == 0 else f"1Z{n}",
                created_at=now - timedelta(minutes=n // 2),
            )
        )
    return made


def _definition(viewer, statuses, state, offset, limit):
    data = QueryDict(mutable=True)
    if statuses is not None:
        data.setlist("status", statuses)
    if state is not None:
        data["state"] = state
    filtered = DeliveryFilter(data, queryset=orders_visible_to(viewer)).qs
    return tracking_page_audited(viewer, filtered, offset=offset, limit=limit)


def _read_events(viewer, after_pk, upto_pk=None):
    events = AuditEvent.objects.filter(actor=viewer, pk__gt=after_pk).order_by("pk")
    if upto_pk is not None:
        events = events.filter(pk__lte=upto_pk)
    fields = ("action", "actor_role", "object_type", "object_id", "patient_id", "outcome")
    return [(*(getattr(e, name) for name in fields), e.detail) for e in events]


def _last_pk():
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def test_the_fast_page_agrees_with_the_definition_in_every_case(orders, ops_admin):
    assert DeliveryOrder.objects.count() == 2 * len(OrderStatus.values)
    for statuses, state, (offset, limit) in itertools.product(STATUS_CHOICES, STATE_CHOICES, PAGES):
        case = (statuses, state, offset, limit)
        before = _last_pk()
        expected = _definition(ops_admin, statuses, state, offset, limit)
        middle = _last_pk()
        fast = tracking_page_fast_audited(
            ops_admin, statuses=statuses, state=state, offset=offset, limit=limit
        )
        assert fast == expected, case
        audited = sorted(_read_events(ops_admin, middle))  # one INSERT: no order among them
        assert audited == sorted(_read_events(ops_admin, before, middle)), case
        assert len(audited) == len(expected.rows), case


def test_only_an_ops_admin_takes_the_fast_page(orders, patient, physician):
    for viewer in (patient, physician.user):
        page = tracking_page_fast_audited(viewer, statuses=None, state=None, offset=0, limit=5)
        assert page is None


@pytest.mark.parametrize(
    ("statuses", "state"), [(["shipped", "lost'"], None), (None, "NY"), (["shipped"], "")]
)
def test_the_fast_page_writes_only_known_choices_into_its_text(ops_admin, statuses, state):
    with pytest.raises(ValueError):
        tracking_page_fast_audited(ops_admin, statuses=statuses, state=state, offset=0, limit=5)


def _body(client, params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"status": ["shipped", "out_for_delivery"], "state": "FL", "page_size": 3},
        {"status": "delivered", "page": 2, "page_size": 1},
        {"state": "NJ", "page": "last", "page_size": 4},
    ],
)
def test_a_usual_query_answers_what_the_filterset_answers(orders, ops_admin, params):
    ops = client_for(ops_admin)
    with CaptureQueriesContext(connection) as fast:
        body = _body(ops, params)
    statements = len(fast.captured_queries)  # now: the next request resets the log
    # An empty county filters nothing but takes the FilterSet's way.
    through_filterset = _body(ops, {**params, "county": ""})
    for key in ("next", "previous"):
        if through_filterset[key]:
            link = through_filterset[key].replace("county=&", "")
            through_filterset[key] = link.replace("&county=", "")
    assert body == through_filterset
    page_last = params.get("page") == "last"
    assert statements == (3 if page_last else 2)  # session, page (+ count)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"status": ["shipped", ""]}, "status"),
        ({"state": "NY"}, "state"),
        ({"state": ["FL", "NY"]}, "state"),
    ],
)
def test_an_invalid_usual_filter_is_the_filtersets_400(orders, ops_admin, params, field):
    response = client_for(ops_admin).get(URL, params)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
