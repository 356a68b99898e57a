"""Local stand-ins for api.stripe.com, for the Stripe gateway's tests.

* `LocalStripe`: localstripe (customers, payment methods, plans, subscriptions, invoices) in a
  subprocess on a loopback port the child picks itself, data in memory only. One per test
  session and per xdist worker; `reset()` wipes it between tests.
* `FakeStripe`: a small threaded HTTP server for what localstripe lacks (Checkout Sessions,
  the billing portal, Price-based objects in the current API shape) and for scripted errors.
  It records what the SDK sent: form parameters, query, headers.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import requests  # noqa: TID251

from tests.local_http import serve_locally

SECRET_KEY = "sk_test_gateway_0123456789abcdef"

# --- localstripe -------------------------------------------------------------------------

# The child binds port 0 itself (no race between xdist workers for a "free" port), prints
# the port, and exits when its stdin closes, i.e. when the test process goes away however it
# ends. Nothing is written to disk.
_LOCALSTRIPE_CHILD = """
import os, socket, sys, threading
from aiohttp import web
from localstripe import resources
from localstripe.server import app

resources.store.dump_to_disk = lambda: None
resources.store.clear()
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
web.run_app(app, sock=sock, print=None, access_log=None, handle_signals=True)
"""


@dataclass
class LocalStripe:
    base_url: str
    process: subprocess.Popen[str]
    stderr: IO[bytes]

    def reset(self) -> None:
        response = requests.delete(f"{self.base_url}/_config/data", timeout=5)
        response.raise_for_status()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdin:
            self.process.stdin.close()
        if self.process.stdout:
            self.process.stdout.close()
        self.stderr.close()


def start_localstripe(timeout: float = 30.0) -> LocalStripe:
    stderr = tempfile.TemporaryFile()  # noqa: SIM115  # closed by LocalStripe.stop()
    process = subprocess.Popen(
        [sys.executable, "-c", _LOCALSTRIPE_CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    server = LocalStripe(base_url="", process=process, stderr=stderr)
    deadline = time.monotonic() + timeout
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        line = process.stdout.readline() if ready else ""
        if not line.strip().isdigit():
            raise RuntimeError("localstripe did not report its port")
        server.base_url = f"http://127.0.0.1:{int(line)}"
        while True:
            try:
                answer = requests.get(
                    f"{server.base_url}/v1/customers",
                    params={"limit": 1},
                    headers={"Authorization": f"Bearer {SECRET_KEY}"},
                    timeout=1,
                )
                if answer.status_code == 200:
                    return server
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("localstripe did not become ready")
            time.sleep(0.02)
    except BaseException as exc:
        server.process.kill()
        server.process.wait(timeout=5)
        server.stderr.seek(0)
        exc.add_note("localstripe stderr:\n" + server.stderr.read().decode(errors="replace"))
        server.stop()
        raise


# --- a scripted Stripe-shaped server --------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    headers: dict[str, str]

    def param(self, name: str) -> str:
        (value,) = self.form.get(name) or self.query[name]
        return value

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass
class ScriptedResponse:
    status: int
    body: str
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # answer only when the test ends: the client must time out


@dataclass
class FakeStripe:
    base_url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    script: deque[ScriptedResponse] = field(default_factory=deque)
    release: threading.Event = field(default_factory=threading.Event)
    stop: Callable[[], None] = lambda: None

    def then(self, status: int, payload: Any, **kwargs: Any) -> None:
        """The next request gets this answer (in order; unscripted ones get the defaults)."""
        body = payload if isinstance(payload, str) else json.dumps(payload)
        self.script.append(ScriptedResponse(status, body, **kwargs))

    def then_error(
        self,
        status: int,
        type: str,
        code: str = "",
        message: str = "Error",
        **extra: Any,
    ) -> None:
        """Stripe's error shape: {"error": {"type", "code", "message", ...}}."""
        error = {"type": type, "message": message, **extra}
        if code:
            error["code"] = code
        self.then(status, {"error": error}, headers={"Request-Id": "req_" + uuid.uuid4().hex})


def _new_id(prefix: str) -> str:
    return f"{prefix}_test_{uuid.uuid4().hex[:24]}"


def _first(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def checkout_session_object(form: dict[str, list[str]]) -> dict[str, Any]:
    session_id = _new_id("cs")
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": _first(form, "mode"),
        "status": "open",
        "customer": _first(form, "customer"),
        "client_reference_id": _first(form, "client_reference_id"),
        "metadata": {"reference": _first(form, "metadata[reference]")},
        "success_url": _first(form, "success_url"),
        "cancel_url": _first(form, "cancel_url"),
        "subscription": None,
        "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        "livemode": False,
        "created": int(time.time()),
        "expires_at": int(time.time()) + 24 * 3600,
    }


def portal_session_object(form: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "id": _new_id("bps"),
        "object": "billing_portal.session",
        "customer": _first(form, "customer"),
        "return_url": _first(form, "return_url"),
        "url": f"https://billing.stripe.com/p/session/{_new_id('session')}",
        "livemode": False,
        "created": int(time.time()),
    }


def price_object(
    price_id: str = "price_membership", amount: int = 25000, currency: str = "usd"
) -> dict[str, Any]:
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "currency": currency,
        "product": "prod_membership",
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
        "type": "recurring",
        "unit_amount": amount,
        "unit_amount_decimal": str(amount),
        "created": 1_760_000_000,
        "livemode": False,
    }


def subscription_object(
    subscription_id: str = "sub_membership",
    *,
    customer: str = "cus_member",
    status: str = "active",
    created: int = 1_780_000_000,
    period_end: int = 1_782_592_000,
    cancel_at_period_end: bool = False,
    price: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A subscription in the current API shape: a Price on the item, the period on the item."""
    return {
        "id": subscription_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "created": created,
        "start_date": created,
        "cancel_at_period_end": cancel_at_period_end,
        "cancel_at": period_end if cancel_at_period_end else None,
        "canceled_at": None,
        "collection_method": "charge_automatically",
        "latest_invoice": "in_latest",
        "metadata": {"reference": "ref-member"},
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_membership",
                    "object": "subscription_item",
                    "price": price or price_object(),
                    "quantity": 1,
                    "current_period_start": period_end - 2_592_000,
                    "current_period_end": period_end,
                    "subscription": subscription_id,
                }
            ],
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={subscription_id}",
        },
        "livemode": False,
    }


def invoice_object(
    invoice_id: str = "in_membership",
    *,
    customer: str = "cus_member",
    subscription: str = "sub_membership",
    status: str = "paid",
    amount: int = 25000,
    created: int = 1_780_000_000,
    period: tuple[int, int] = (1_780_000_000, 1_782_592_000),
) -> dict[str, Any]:
    """An invoice in the current API shape: its subscription under parent.subscription_details."""
    return {
        "id": invoice_id,
        "object": "invoice",
        "customer": customer,
        "status": status,
        "number": f"MEMB-{invoice_id[-4:].upper()}",
        "currency": "usd",
        "amount_due": amount,
        "amount_paid": amount if status == "paid" else 0,
        "amount_remaining": 0 if status == "paid" else amount,
        "created": created,
        "period_start": created,
        "period_end": created,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/acct_test/{invoice_id}",
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription, "metadata": {}},
        },
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": f"il_{invoice_id}",
                    "object": "line_item",
                    "amount": amount,
                    "currency": "usd",
                    "period": {"start": period[0], "end": period[1]},
                    "pricing": {"price_details": {"price": "price_membership"}},
                }
            ],
            "has_more": False,
        },
        "livemode": False,
    }


def list_object(url: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "url": url, "has_more": False, "data": data}


_DEFAULT_ROUTES: dict[tuple[str, str], Callable[[dict[str, list[str]]], dict[str, Any]]] = {
    ("POST", "/v1/checkout/sessions"): checkout_session_object,
    ("POST", "/v1/billing_portal/sessions"): portal_session_object,
}


def _handler_for(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so a stopped server refuses the next one.
        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            url = urlsplit(self.path)
            form = parse_qs(raw, keep_blank_values=True)
            fake.requests.append(
                RecordedRequest(
                    method=method,
                    path=url.path,
                    query=parse_qs(url.query, keep_blank_values=True),
                    form=form,
                    headers={key.lower(): value for key, value in self.headers.items()},
                )
            )
            if fake.script:
                scripted = fake.script.popleft()
                if scripted.hang:
                    fake.release.wait(timeout=10)
                self._answer(
                    scripted.status, scripted.body, scripted.content_type, scripted.headers
                )
                return
            route = _DEFAULT_ROUTES.get((method, url.path))
            if route is None:
                missing = {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "resource_missing",
                        "message": f"Unrecognized request URL ({method}: {url.path}).",
                    }
                }
                self._answer(404, json.dumps(missing))
                return
            self._answer(200, json.dumps(route(form)))

        def _answer(
            self,
            status: int,
            body: str,
            content_type: str = "application/json",
            headers: dict[str, str] | None = None,
        ) -> None:
            data = body.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout test)
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def start_fake_stripe() -> FakeStripe:
    fake = FakeStripe()
    fake.base_url, fake.stop = serve_locally(
        _handler_for(fake), name="fake-stripe", on_stop=fake.release.set
    )
    return fake
