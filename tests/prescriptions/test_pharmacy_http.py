"""The HTTP pharmacy backend against a local HTTP server: the body, the signature (over
"<t>.<body>" with the pharmacy's secret), the idempotency key (the same on a retry), and
which answers are transient (5xx, 429, timeout, no server) or permanent (4xx)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import pytest
from django.core.exceptions import ValidationError

from prescriptions.models import OrderStatus, PharmacySubmission, SubmissionStatus
from prescriptions.pharmacy.base import PermanentPharmacyError, TransientPharmacyError
from prescriptions.pharmacy.http import HttpPharmacy
from prescriptions.pharmacy.signing import signature_check
from prescriptions.services.submission import submission_send
from prescriptions.validators import validate_order_url
from tests.local_http import serve_locally
from tests.prescriptions.support_pharmacy import new_order

pytestmark = pytest.mark.django_db


class FakePharmacy(BaseHTTPRequestHandler):
    """Answers each POST with the next of `answers` (status, body); records requests."""

    answers: ClassVar[list[tuple[int, dict[str, Any]]]] = []
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    delay = 0.0
    release = threading.Event()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        FakePharmacy.received.append((dict(self.headers), body))
        if FakePharmacy.delay:
            FakePharmacy.release.wait(FakePharmacy.delay)
        status, answer = FakePharmacy.answers.pop(0) if FakePharmacy.answers else (200, {})
        data = json.dumps(answer).encode()
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server(settings) -> Iterator[str]:
    FakePharmacy.answers, FakePharmacy.received, FakePharmacy.delay = [], [], 0.0
    FakePharmacy.release = threading.Event()
    url, stop = serve_locally(FakePharmacy, name="fake-pharmacy", on_stop=FakePharmacy.release.set)
    settings.PHARMACY_BACKEND = "prescriptions.pharmacy.http.HttpPharmacy"
    settings.PHARMACY_TIMEOUT_SECONDS = 0.5
    yield url
    stop()


@pytest.fixture
def order(patient, physician, server):
    made = new_order(patient, physician)
    made.pharmacy.order_url = server + "/orders"
    made.pharmacy.save()
    return made


def test_the_order_is_posted_signed_with_its_idempotency_key(order):
    FakePharmacy.answers = [(201, {"reference": "PH-77"})]
    assert submission_send(submission_id=order.submission.pk) == "sent"
    headers, body = FakePharmacy.received[0]
    key = str(order.submission.idempotency_key)
    assert headers["Idempotency-Key"] == key
    assert headers["Content-Type"] == "application/json"
    signature_check(
        body, headers["X-Pharmacy-Signature"], secret="whsec_pharmacy_test", tolerance=60
    )
    sent = json.loads(body)
    assert sent["order"]["number"] == order.number
    assert sent["idempotency_key"] == key
    submission = PharmacySubmission.objects.get(pk=order.submission.pk)
    assert (submission.status, submission.pharmacy_reference) == (SubmissionStatus.SENT, "PH-77")
    order.refresh_from_db()
    assert order.status == OrderStatus.SENT_TO_PHARMACY


def test_the_signature_does_not_verify_with_another_secret_or_body(order):
    submission_send(submission_id=order.submission.pk)
    headers, body = FakePharmacy.received[0]
    from prescriptions.pharmacy.signing import SignatureInvalid

    with pytest.raises(SignatureInvalid):
        signature_check(body, headers["X-Pharmacy-Signature"], secret="other", tolerance=60)
    with pytest.raises(SignatureInvalid):
        signature_check(
            body + b" ", headers["X-Pharmacy-Signature"], secret="whsec_pharmacy_test", tolerance=60
        )


def test_a_retry_after_a_5xx_carries_the_same_key_and_body(order):
    FakePharmacy.answers = [(503, {}), (200, {"reference": "PH-1"})]
    assert submission_send(submission_id=order.submission.pk) == "retry"
    PharmacySubmission.objects.filter(pk=order.submission.pk).update(
        next_attempt_at=order.created_at
    )
    assert submission_send(submission_id=order.submission.pk) == "sent"
    (first_headers, first_body), (second_headers, second_body) = FakePharmacy.received
    assert first_headers["Idempotency-Key"] == second_headers["Idempotency-Key"]
    assert json.loads(first_body) == json.loads(second_body)


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (500, TransientPharmacyError, "http_500"),
        (502, TransientPharmacyError, "http_502"),
        (429, TransientPharmacyError, "http_429"),
        (400, PermanentPharmacyError, "http_400"),
        (401, PermanentPharmacyError, "http_401"),
        (422, PermanentPharmacyError, "http_422"),
    ],
)
def test_answers_map_to_transient_or_permanent(order, status, error, code):
    FakePharmacy.answers = [(status, {"error": "patient Jane Doe unknown"})]
    with pytest.raises(error) as raised:
        HttpPharmacy().send(payload={"order": {}}, pharmacy=order.pharmacy, idempotency_key="k")
    assert raised.value.code == code
    assert "Jane" not in str(raised.value)  # the pharmacy's text is never ours


def test_a_timeout_is_transient(order):
    FakePharmacy.delay = 5.0
    started = time.monotonic()
    with pytest.raises(TransientPharmacyError) as raised:
        HttpPharmacy().send(payload={"order": {}}, pharmacy=order.pharmacy, idempotency_key="k")
    assert raised.value.code == "timeout"
    assert time.monotonic() - started < 3


def test_no_server_is_transient(order):
    order.pharmacy.order_url = "http://127.0.0.1:9/orders"
    with pytest.raises(TransientPharmacyError) as raised:
        HttpPharmacy().send(payload={"order": {}}, pharmacy=order.pharmacy, idempotency_key="k")
    assert raised.value.code == "network"


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_permanent_and_never_followed(order, status):
    FakePharmacy.answers = [(status, {})]
    with pytest.raises(PermanentPharmacyError) as raised:
        HttpPharmacy().send(payload={"order": {}}, pharmacy=order.pharmacy, idempotency_key="k")
    assert raised.value.code == f"http_{status}"
    assert len(FakePharmacy.received) == 1  # the body went nowhere else


def test_an_order_url_in_clear_text_is_refused_before_sending(order):
    order.pharmacy.order_url = "http://pharmacy.example/orders"
    with pytest.raises(PermanentPharmacyError) as raised:
        HttpPharmacy().send(payload={"order": {}}, pharmacy=order.pharmacy, idempotency_key="k")
    assert raised.value.code == "insecure_order_url"
    assert FakePharmacy.received == []


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://pharmacy.example/orders", True),
        ("http://127.0.0.1:8123/orders", True),
        ("http://localhost:8123/orders", True),
        ("http://[::1]:8123/orders", True),
        ("http://pharmacy.example/orders", False),
        ("http://127.0.0.1.pharmacy.example/orders", False),
        ("http://10.0.0.5/orders", False),
        ("ftp://pharmacy.example/orders", False),
    ],
)
def test_only_https_or_this_machine_may_receive_orders(url, allowed):
    if allowed:
        validate_order_url(url)
    else:
        with pytest.raises(ValidationError):
            validate_order_url(url)


def test_a_pharmacy_without_an_order_url_is_permanent(order):
    order.pharmacy.order_url = ""
    with pytest.raises(PermanentPharmacyError):
        HttpPharmacy().send(payload={"order": {}}, pharmacy=order.pharmacy, idempotency_key="k")
