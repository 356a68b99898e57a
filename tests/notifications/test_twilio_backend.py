"""The Twilio adapter: the official SDK against a local HTTP server that answers like Twilio.

No database is needed: the adapter only reads settings and talks HTTP.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured

from notifications.errors import PermanentSendError, TransientSendError, UncertainSendError
from notifications.sms import twilio as twilio_sms
from notifications.sms.base import InvalidNumber, OptedOutNumber, OutgoingSms, SentSms
from notifications.sms.twilio import TwilioSmsBackend
from tests.local_http import serve_locally

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
MESSAGING_SERVICE_SID = "MG" + "fedcba9876543210" * 2
FROM_NUMBER = "+15005550006"
PUBLIC_BASE_URL = "https://app.example.test"
TO_NUMBER = "+15555550123"
BODY = "You have a new message from your care team. Open the app to read it."

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")


# --- a local stand-in for api.twilio.com -------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    form: dict[str, list[str]]
    authorization: str

    def param(self, name: str) -> str:
        (value,) = self.form[name]
        return value


@dataclass
class ScriptedResponse:
    status: int
    body: str
    content_type: str = "application/json"
    hang: bool = False  # never answer (until the test ends): the client must time out


@dataclass
class FakeTwilio:
    base_url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    script: deque[ScriptedResponse] = field(default_factory=deque)
    release: threading.Event = field(default_factory=threading.Event)
    stop: Callable[[], None] = lambda: None

    def then(self, status: int, payload: Any, **kwargs: Any) -> None:
        body = payload if isinstance(payload, str) else json.dumps(payload)
        self.script.append(ScriptedResponse(status, body, **kwargs))

    def then_error(self, status: int, code: int, message: str = "Error") -> None:
        """Twilio's (legacy) error shape for the 2010-04-01 API."""
        self.then(
            status,
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
        )


def _message_resource(account_sid: str, form: dict[str, list[str]]) -> dict[str, Any]:
    sid = "SM" + uuid.uuid4().hex
    first = {key: values[0] for key, values in form.items()}
    return {
        "sid": sid,
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": first.get("Body"),
        "date_created": "Tue, 25 Nov 2025 21:00:00 +0000",
        "date_sent": None,
        "date_updated": "Tue, 25 Nov 2025 21:00:00 +0000",
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": first.get("From"),
        "messaging_service_sid": first.get("MessagingServiceSid"),
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "status": "queued",
        "subresource_uris": {
            "media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"
        },
        "to": first.get("To"),
        "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
    }


def _handler_for(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so a stopped server refuses the next one.
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            form = parse_qs(raw, keep_blank_values=True)
            fake.requests.append(
                RecordedRequest(
                    method="POST",
                    path=self.path,
                    form=form,
                    authorization=self.headers.get("Authorization", ""),
                )
            )
            match = MESSAGES_PATH.match(urlsplit(self.path).path)
            if match is None:
                self._answer(404, json.dumps({"code": 20404, "message": "Not found"}))
                return
            if fake.script:
                scripted = fake.script.popleft()
                if scripted.hang:
                    fake.release.wait(timeout=10)
                self._answer(scripted.status, scripted.body, scripted.content_type)
                return
            self._answer(201, json.dumps(_message_resource(match.group(1), form)))

        def _answer(self, status: int, body: str, content_type: str = "application/json") -> None:
            data = body.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout test)
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    fake.base_url, fake.stop = serve_locally(
        _handler_for(fake), name="fake-twilio", on_stop=fake.release.set
    )
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(autouse=True)
def _fresh_twilio_client() -> Iterator[None]:
    """The adapter caches one SDK client per process: no test sees another's."""
    twilio_sms.sdk_client.cache_clear()
    yield
    twilio_sms.sdk_client.cache_clear()


@pytest.fixture
def twilio_settings(settings: Any, fake_twilio: FakeTwilio) -> Any:
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_MESSAGING_SERVICE_SID = MESSAGING_SERVICE_SID
    settings.TWILIO_FROM_NUMBER = ""
    settings.TWILIO_API_BASE_URL = fake_twilio.base_url
    settings.TWILIO_TIMEOUT_SECONDS = 5.0
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    return settings


def _sms(message_id: str | None = None) -> OutgoingSms:
    return OutgoingSms(to=TO_NUMBER, body=BODY, message_id=message_id or uuid.uuid4().hex)


def _unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- sending ---------------------------------------------------------------------------


def test_accepted_message_goes_through_the_messaging_service(
    twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    sms = _sms("msg_4f2a9c")

    sent = TwilioSmsBackend().send(sms)

    assert isinstance(sent, SentSms)
    assert re.fullmatch(r"SM[0-9a-f]{32}", sent.provider_message_id)
    assert sent.status == "queued"
    (request,) = fake_twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.param("To") == TO_NUMBER
    assert request.param("Body") == BODY
    assert request.param("MessagingServiceSid") == MESSAGING_SERVICE_SID
    assert "From" not in request.form
    callback = request.param("StatusCallback")
    assert callback == f"{PUBLIC_BASE_URL}/api/notifications/twilio/status?m=msg_4f2a9c"
    assert parse_qs(urlsplit(callback).query) == {"m": ["msg_4f2a9c"]}
    scheme, _, credentials = request.authorization.partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(credentials).decode() == f"{ACCOUNT_SID}:{AUTH_TOKEN}"


def test_from_number_is_used_when_there_is_no_messaging_service(
    twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    twilio_settings.TWILIO_MESSAGING_SERVICE_SID = ""
    twilio_settings.TWILIO_FROM_NUMBER = FROM_NUMBER

    TwilioSmsBackend().send(_sms())

    (request,) = fake_twilio.requests
    assert request.param("From") == FROM_NUMBER
    assert "MessagingServiceSid" not in request.form


def test_messaging_service_wins_when_both_are_set(
    twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    twilio_settings.TWILIO_FROM_NUMBER = FROM_NUMBER

    TwilioSmsBackend().send(_sms())

    (request,) = fake_twilio.requests
    assert request.param("MessagingServiceSid") == MESSAGING_SERVICE_SID
    assert "From" not in request.form


def test_trailing_slash_on_public_base_url_does_not_double_up(
    twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    twilio_settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL + "/"

    TwilioSmsBackend().send(_sms("abc"))

    (request,) = fake_twilio.requests
    assert request.param("StatusCallback") == (
        f"{PUBLIC_BASE_URL}/api/notifications/twilio/status?m=abc"
    )


def test_the_callback_url_names_the_attempt_when_there_is_one(
    twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    TwilioSmsBackend().send(OutgoingSms(to=TO_NUMBER, body=BODY, message_id="abc", attempt=2))

    (request,) = fake_twilio.requests
    callback = request.param("StatusCallback")
    assert callback == f"{PUBLIC_BASE_URL}/api/notifications/twilio/status?m=abc&a=2"
    assert parse_qs(urlsplit(callback).query) == {"m": ["abc"], "a": ["2"]}


def test_missing_status_in_the_answer_reads_as_sent(
    twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.then(201, {"sid": "SM" + "a" * 32, "status": None})

    sent = TwilioSmsBackend().send(_sms())

    assert sent == SentSms(provider_message_id="SM" + "a" * 32, status="sent")


def test_the_sdk_client_is_reused_across_sends(
    twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    backend = TwilioSmsBackend()
    backend.send(_sms())
    TwilioSmsBackend().send(_sms())

    info = twilio_sms.sdk_client.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    assert len(fake_twilio.requests) == 2


# --- errors ----------------------------------------------------------------------------


def test_opted_out_number(twilio_settings: Any, fake_twilio: FakeTwilio) -> None:
    fake_twilio.then_error(400, 21610, "Attempt to send to unsubscribed recipient")

    with pytest.raises(OptedOutNumber) as caught:
        TwilioSmsBackend().send(_sms())

    assert caught.value.code == "21610"
    assert isinstance(caught.value, PermanentSendError)


@pytest.mark.parametrize("code", [21211, 30005])
def test_invalid_or_unknown_number(
    twilio_settings: Any, fake_twilio: FakeTwilio, code: int
) -> None:
    fake_twilio.then_error(400, code, f"The 'To' number {TO_NUMBER} is not a valid phone number.")

    with pytest.raises(InvalidNumber) as caught:
        TwilioSmsBackend().send(_sms())

    assert caught.value.code == str(code)
    assert isinstance(caught.value, PermanentSendError)


def test_unreachable_handset_is_transient(twilio_settings: Any, fake_twilio: FakeTwilio) -> None:
    fake_twilio.then_error(400, 30003, "Unreachable destination handset")

    with pytest.raises(TransientSendError) as caught:
        TwilioSmsBackend().send(_sms())

    assert caught.value.code == "30003"


def test_server_error_then_success_on_retry(twilio_settings: Any, fake_twilio: FakeTwilio) -> None:
    fake_twilio.then_error(500, 20500, "An internal server error has occurred")
    backend = TwilioSmsBackend()
    sms = _sms()

    with pytest.raises(TransientSendError) as caught:
        backend.send(sms)
    sent = backend.send(sms)

    assert caught.value.code == "20500"
    assert sent.provider_message_id.startswith("SM")
    assert len(fake_twilio.requests) == 2


def test_rate_limit_is_transient(twilio_settings: Any, fake_twilio: FakeTwilio) -> None:
    fake_twilio.then_error(429, 20429, "Too Many Requests")

    with pytest.raises(TransientSendError) as caught:
        TwilioSmsBackend().send(_sms())

    assert caught.value.code == "20429"


def test_bad_gateway_without_a_json_body_is_transient(
    twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.then(502, "<html>Bad Gateway</html>", content_type="text/html")

    with pytest.raises(TransientSendError) as caught:
        TwilioSmsBackend().send(_sms())

    assert caught.value.code == "502"


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, 21602), (401, 20003), (403, 21408)],
)
def test_other_client_errors_are_permanent(
    twilio_settings: Any, fake_twilio: FakeTwilio, status: int, code: int
) -> None:
    fake_twilio.then_error(status, code)

    with pytest.raises(PermanentSendError) as caught:
        TwilioSmsBackend().send(_sms())

    assert type(caught.value) is PermanentSendError
    assert caught.value.code == str(code)


def test_rfc9457_error_shape_is_mapped_too(twilio_settings: Any, fake_twilio: FakeTwilio) -> None:
    fake_twilio.then(
        400,
        {
            "type": "https://www.twilio.com/docs/errors/21610",
            "title": "Unsubscribed recipient",
            "status": 400,
            "code": 21610,
            "detail": "Attempt to send to unsubscribed recipient",
        },
    )

    with pytest.raises(OptedOutNumber) as caught:
        TwilioSmsBackend().send(_sms())

    assert caught.value.code == "21610"


def test_unreadable_success_answer_is_uncertain(
    twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.then(201, "this is not json", content_type="text/plain")

    with pytest.raises(UncertainSendError) as caught:
        TwilioSmsBackend().send(_sms())

    assert caught.value.code == "bad_response"


def test_success_without_a_sid_is_uncertain(twilio_settings: Any, fake_twilio: FakeTwilio) -> None:
    fake_twilio.then(201, "")

    with pytest.raises(UncertainSendError) as caught:
        TwilioSmsBackend().send(_sms())

    assert caught.value.code == "no_sid"


def test_connection_refused_is_transient(twilio_settings: Any) -> None:
    twilio_settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{_unused_port()}"

    with pytest.raises(TransientSendError) as caught:
        TwilioSmsBackend().send(_sms())

    assert caught.value.code == "network"


def test_server_gone_after_a_success_is_transient(
    twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    backend = TwilioSmsBackend()
    backend.send(_sms())
    fake_twilio.stop()  # same settings, same cached client, but nobody listens now

    with pytest.raises(TransientSendError) as caught:
        backend.send(_sms())

    assert caught.value.code == "network"
    assert twilio_sms.sdk_client.cache_info().currsize == 1


def test_read_timeout_is_uncertain_not_retried(
    twilio_settings: Any, fake_twilio: FakeTwilio
) -> None:
    # The request reached Twilio, which may have taken it: retrying could send it twice.
    twilio_settings.TWILIO_TIMEOUT_SECONDS = 0.3
    fake_twilio.then(201, {"sid": "SM" + "b" * 32, "status": "queued"}, hang=True)

    with pytest.raises(UncertainSendError) as caught:
        TwilioSmsBackend().send(_sms())

    assert caught.value.code == "timeout"


def test_errors_carry_no_vendor_exception_and_no_number(
    twilio_settings: Any, fake_twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_twilio.then_error(400, 21211, f"The 'To' number {TO_NUMBER} is not a valid phone number.")

    with pytest.raises(InvalidNumber) as caught:
        TwilioSmsBackend().send(_sms())
    TwilioSmsBackend().send(_sms())

    error = caught.value
    assert error.__cause__ is None
    assert error.__context__ is None
    assert TO_NUMBER not in str(error)
    assert TO_NUMBER not in caplog.text
    assert TO_NUMBER[-4:] in caplog.text  # masked, still useful
    assert BODY not in caplog.text


# --- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "missing",
    ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"],
)
def test_missing_credentials_refuse_to_construct(twilio_settings: Any, missing: str) -> None:
    setattr(twilio_settings, missing, "")

    with pytest.raises(ImproperlyConfigured):
        TwilioSmsBackend()


def test_missing_sender_refuses_to_construct(twilio_settings: Any) -> None:
    twilio_settings.TWILIO_MESSAGING_SERVICE_SID = ""
    twilio_settings.TWILIO_FROM_NUMBER = ""

    with pytest.raises(ImproperlyConfigured):
        TwilioSmsBackend()


def test_chosen_by_dotted_path(twilio_settings: Any) -> None:
    from notifications.sms.base import get_sms_backend

    twilio_settings.SMS_BACKEND = "notifications.sms.twilio.TwilioSmsBackend"

    assert isinstance(get_sms_backend(), TwilioSmsBackend)
