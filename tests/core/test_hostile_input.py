"""Hostile input never reaches a 500: one test per class of input, over every way a
request body or query is parsed (DRF's JSON parser, anonymous and signed in; the Stripe
webhook's raw body; Twilio's form webhooks; the local gateway's HTML forms; the Django
admin login form; query strings)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote_from_bytes
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client

from accounts.models import User
from accounts.services.sessions import auth_session_issue
from billing.gateways.shapes import signature_header
from core.clock import practice_today
from tests.actors import client_for
from tests.factories import PatientFactory, UserFactory
from tests.patients.support import PROFILE, submitted_intake
from tests.patients.support_review import act, fl_only_physician

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass(frozen=True)
class Entry:
    """One parser entry point: how a hostile piece of text gets into what it parses."""

    method: str
    path: str
    content_type: str
    # A body carrying `text`: a JSON fragment (already escaped) for JSON entries, raw
    # bytes that will be percent-encoded for form and query entries.
    body: Callable[[bytes], bytes]
    signed_in: bool = False
    stripe_signed: bool = False

    @property
    def is_json(self) -> bool:
        return self.content_type == JSON

    def send(
        self,
        text: bytes | None = None,
        *,
        raw: bytes | None = None,
        content_type: str | None = None,
        query: str = "",
        **extra: Any,
    ) -> Any:
        body = raw if raw is not None else self.body(text if text is not None else b'"x"')
        path = self.path
        if self.method == "GET":
            path = f"{path}?{query or body.decode('latin-1')}"
            body = b""
        elif query:
            path = f"{path}?{query}"
        if self.stripe_signed:
            extra["HTTP_STRIPE_SIGNATURE"] = signature_header(body, settings.STRIPE_WEBHOOK_SECRET)
        client = client_for(PatientFactory().user) if self.signed_in else Client()
        extra.setdefault("CONTENT_TYPE", content_type or self.content_type)
        client.raise_request_exception = False
        return client.generic(
            self.method, path, body, content_type=content_type or self.content_type, **extra
        )


def _json_login(text: bytes) -> bytes:
    return b'{"email": ' + text + b', "password": "secret-secret"}'


def _json_intake(text: bytes) -> bytes:
    return b'{"answers": {"allergies": [' + text + b"]}}"


def _stripe_event(text: bytes) -> bytes:
    return b'{"id": "evt_1", "type": "ping", "created": 1, "data": {"object": ' + text + b"}}"


def _form(field: str, *others: str) -> Callable[[bytes], bytes]:
    def body(text: bytes) -> bytes:
        return "&".join([f"{field}=" + quote_from_bytes(text), *others]).encode()

    return body


ENTRIES = {
    "json_anonymous": Entry("POST", "/api/auth/login", JSON, _json_login),
    "json_signed_in": Entry("PUT", "/api/intake", JSON, _json_intake, signed_in=True),
    "stripe_webhook": Entry(
        "POST", "/api/billing/stripe/webhook", JSON, _stripe_event, stripe_signed=True
    ),
    "twilio_form": Entry(
        "POST", "/api/notifications/twilio/inbound", FORM, _form("Body", "From=%2B13055550123")
    ),
    "local_gateway_form": Entry(
        "POST", "/billing/local-checkout/cs_missing", FORM, _form("card_number")
    ),
    "admin_login_form": Entry(
        "POST", "/admin/login/", FORM, _form("username", "password=secret-secret")
    ),
    "query_string": Entry("GET", "/api/assessments/questions", "", _form("q")),
}
JSON_ENTRIES = [name for name, entry in ENTRIES.items() if entry.is_json]


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body["error"]) == {"code", "message", "fields"}
    assert response["X-Request-ID"]
    return dict(body["error"])


DEEP = b"[" * 50_000 + b"]" * 50_000


@pytest.mark.parametrize("name", ENTRIES)
def test_deep_nesting_is_refused_before_parsing(name: str) -> None:
    entry = ENTRIES[name]
    if entry.is_json:
        # Nested inside a real field, and as the whole body.
        assert_error(entry.send(DEEP), 400)
        assert_error(entry.send(raw=DEEP), 400)
        # A document at the limit still parses (it fails validation, not parsing).
        at_limit = b"[" * 31 + b"1" + b"]" * 31
        assert entry.send(at_limit).status_code != 500
    else:
        # Brackets are only text in a form or a query; nothing parses them as JSON.
        assert entry.send(DEEP[:5000]).status_code < 500
        # Sent as JSON where JSON is not taken: refused or ignored, never a 500.
        assert entry.send(raw=DEEP, content_type=JSON).status_code < 500


LONE_SURROGATE = b'"\\ud800"'
NUL = b'"a\\u0000b"'


@pytest.mark.parametrize("name", ENTRIES)
def test_text_that_is_not_valid_unicode_is_refused(name: str) -> None:
    entry = ENTRIES[name]
    if entry.is_json:
        # In a value, in a key (an unknown field name is echoed back in the error), and
        # invalid UTF-8 bytes; NUL cannot be stored in PostgreSQL text or jsonb.
        for text in (LONE_SURROGATE, b'{"\\udc00": 1}', b'["\\ud83d"]', NUL):
            error = assert_error(entry.send(text), 400)
            assert "\ud800" not in json.dumps(error, ensure_ascii=False)
        assert_error(entry.send(raw=b'{"\\ud800": "x", "email": 1}'), 400)
        assert_error(entry.send(raw=b'{"email": "\xff\xfe"}'), 400)
    else:
        # Percent-encoded lone surrogate (CESU-style UTF-8) and bytes that are no UTF-8.
        for text in (b"\xed\xa0\x80", b"\xff\xfe", b"ok"):
            response = entry.send(text)
            if text == b"ok":
                assert response.status_code < 500
            else:
                assert_error(response, 400)
        # In a field name too.
        encoded = b"%ED%A0%80=1"
        assert_error(entry.send(raw=encoded, query=encoded.decode()), 400)


@pytest.fixture
def wsgi_app() -> Iterator[Any]:
    """The application gunicorn serves (config.wsgi), called as a WSGI server calls it;
    like Django's test client, it leaves the test's database connection open."""
    from config.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def wsgi_call(
    app: Any, entry: Entry, *, content_type: str, query: str
) -> tuple[str, dict[str, str], bytes]:
    body = b"" if entry.method == "GET" else entry.body(b'"x"')
    environ: dict[str, Any] = {
        "REQUEST_METHOD": entry.method,
        "PATH_INFO": entry.path,
        "QUERY_STRING": query,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
    }
    setup_testing_defaults(environ)
    if entry.signed_in:
        tokens = auth_session_issue(user=UserFactory(role="patient"))
        environ["HTTP_AUTHORIZATION"] = f"Bearer {tokens.access_token}"
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started.update(status=status, headers=dict(headers))

    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return started["status"], started["headers"], content


@pytest.mark.parametrize("charset", ["utf-16", "rot13", "nonsense", "latin-1"])
@pytest.mark.parametrize("with_query", [False, True])
@pytest.mark.parametrize("name", ENTRIES)
def test_charsets_other_than_utf8_are_refused(
    wsgi_app: Any, name: str, charset: str, with_query: bool
) -> None:
    """Through the WSGI application: with a query string, Django fails while building the
    request, before any middleware or error handler."""
    entry = ENTRIES[name]
    content_type = f"{entry.content_type or FORM}; charset={charset}"
    status, headers, content = wsgi_call(
        wsgi_app, entry, content_type=content_type, query="page=1" if with_query else ""
    )
    assert status.startswith("415"), content[:300]
    assert json.loads(content)["error"]["code"] == "unsupported_charset"
    assert headers["X-Request-ID"]


@pytest.mark.parametrize("name", ENTRIES)
def test_charset_refused_by_middleware_keeps_request_id(name: str) -> None:
    """What reaches Django (no query string) is refused by RequestGuardMiddleware, after the
    request-id middleware."""
    entry = ENTRIES[name]
    response = entry.send(raw=b"", content_type=f"{entry.content_type or FORM}; charset=rot13")
    assert assert_error(response, 415)["code"] == "unsupported_charset"


@pytest.mark.parametrize("name", ENTRIES)
def test_utf8_charset_spellings_are_accepted(name: str) -> None:
    entry = ENTRIES[name]
    for charset in ("utf-8", "UTF-8", "utf8"):
        content_type = f"{entry.content_type or FORM}; charset={charset}"
        assert entry.send(content_type=content_type).status_code not in (415, 500)


@pytest.mark.parametrize("name", ENTRIES)
def test_chunked_body_without_length_is_411(name: str) -> None:
    entry = ENTRIES[name]
    response = entry.send(HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH="")
    assert assert_error(response, 411)["code"] == "length_required"


# --- control characters and implausible dates where a person's text belongs -------------

HOSTILE_CHARACTERS = ["\x00", "\x07", "\x1b", "\x85", "\u202e", "\u2067", "\u200b", "\ufeff"]


def _record(user: User, field: str, value: str) -> Any:
    return client_for(user).put("/api/patients/me", {**PROFILE, field: value}, format="json")


def _consent(user: User, field: str, value: str) -> Any:
    return client_for(user).post(
        "/api/consents/treatment/sign", {"version": "1", "typed_name": value}, format="json"
    )


def _intake(user: User, field: str, value: str) -> Any:
    return client_for(PatientFactory().user).put(
        "/api/intake", {"answers": {"allergies": [value]}}, format="json"
    )


def _review(user: User, field: str, value: str) -> Any:
    action = {"note": "approve", "reason": "decline", "question": "request-info"}[field]
    intake = submitted_intake(PatientFactory().user)
    return act(fl_only_physician().user, intake, action, {field: value})


PERSON_TEXT = [
    *(
        (_record, name)
        for name in (
            "legal_first_name",
            "legal_last_name",
            "address_line1",
            "city",
            "county",
            "emergency_contact_name",
            "sitter_name",
        )
    ),
    (_consent, "typed_name"),
    (_intake, "answers.allergies.0"),
    *((_review, name) for name in ("note", "reason", "question")),
]


@pytest.mark.parametrize("char", HOSTILE_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize(("send", "field"), PERSON_TEXT, ids=[f for _, f in PERSON_TEXT])
def test_control_and_invisible_characters_in_person_text(send: Any, field: str, char: str) -> None:
    user = UserFactory(role="patient")
    response = send(user, field, f"Av{char}ery")
    error = assert_error(response, 400)
    assert field in error["fields"], error


@pytest.mark.parametrize(
    "born", ["1899-12-31", "0001-01-01", str(practice_today() + timedelta(days=1))]
)
@pytest.mark.parametrize("path", ["/api/patients/me", "/api/assessments"])
def test_implausible_birth_dates(path: str, born: str) -> None:
    user = UserFactory(role="patient")
    response: Any
    if path == "/api/patients/me":
        response = client_for(user).put(path, {**PROFILE, "date_of_birth": born}, format="json")
    else:
        response = Client().post(path, {"date_of_birth": born, "state": "FL"}, content_type=JSON)
    assert "date_of_birth" in assert_error(response, 400)["fields"]
