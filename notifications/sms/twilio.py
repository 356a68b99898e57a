"""Twilio: the only module in the project that imports the `twilio` SDK.

Everything Twilio-specific stays behind this seam:

* `TwilioSmsBackend` sends an `OutgoingSms` and returns our `SentSms`, raising only our
  `SendError` subclasses (transient vs permanent, and what the error says about the number).
* `signature_is_valid` checks the X-Twilio-Signature of an inbound webhook.
* `delivery_report` and `incoming_sms` read Twilio's webhook parameters into our own
  dataclasses: Twilio's status names and error codes are known here and nowhere else.
* `twiml_message` builds the TwiML reply to an inbound SMS.

Neither the body nor the full number is ever logged, and no vendor exception (whose message
may quote the number) is chained onto the errors we raise.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import requests  # noqa: TID251
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from twilio.base.exceptions import TwilioException, TwilioRestException  # noqa: TID251
from twilio.http.http_client import TwilioHttpClient  # noqa: TID251
from twilio.request_validator import RequestValidator  # noqa: TID251
from twilio.rest import Client  # noqa: TID251
from twilio.twiml.messaging_response import MessagingResponse  # noqa: TID251

from notifications.errors import (
    PermanentSendError,
    SendError,
    TransientSendError,
    UncertainSendError,
)
from notifications.models import MessageStatus
from notifications.sms.base import (
    DeliveryReport,
    IncomingSms,
    InvalidNumber,
    NumberFlag,
    OptedOutNumber,
    OutgoingSms,
    SentSms,
    SmsBackend,
)

logger = logging.getLogger(__name__)

STATUS_CALLBACK_PATH = "/api/notifications/twilio/status"

# Twilio error codes with a meaning for us (DOMAIN.md, "Messages").
OPTED_OUT_CODES = frozenset({21610})  # the recipient replied STOP
INVALID_NUMBER_CODES = frozenset({21211, 30005})  # not a valid / unknown number
UNREACHABLE_CODES = frozenset({30003})  # handset off or out of coverage: retry a little

# Twilio's message statuses (MessageStatus in status callbacks) in ours. Anything else
# ("receiving", "received", "canceled", ...) is not a delivery report we act on.
DELIVERY_STATUSES: dict[str, MessageStatus] = {
    "accepted": MessageStatus.SENT,
    "scheduled": MessageStatus.SENT,
    "queued": MessageStatus.SENT,
    "sending": MessageStatus.SENT,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.FAILED,
    "failed": MessageStatus.FAILED,
}


@functools.cache
def sdk_client(account_sid: str, auth_token: str, base_url: str, timeout: float) -> Client:
    """One SDK client (and its pooled HTTP session) per process and configuration."""
    client = Client(
        account_sid,
        auth_token,
        http_client=TwilioHttpClient(timeout=timeout),
    )
    if base_url:
        # Tests and local stand-ins only; production talks to the SDK's own host.
        client.api.base_url = base_url.rstrip("/")
    return client


def status_callback_url(message_id: str, attempt: int | None = None) -> str:
    """Our callback URL, naming our message (`m`) and its attempt (`a`); Twilio signs it
    whole, query string included, so neither can be altered."""
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    query = {"m": message_id} | ({"a": str(attempt)} if attempt is not None else {})
    return f"{base}{STATUS_CALLBACK_PATH}?{urlencode(query, safe='')}"


def number_flag(code: int | None) -> NumberFlag | None:
    """What a Twilio error code says about the number (DOMAIN.md, "Messages")."""
    if code in OPTED_OUT_CODES:
        return "opted_out"
    if code in INVALID_NUMBER_CODES:
        return "invalid"
    if code in UNREACHABLE_CODES:
        return "unreachable"
    return None


def delivery_report(
    params: Mapping[str, str], *, query: Mapping[str, str] | None = None
) -> DeliveryReport:
    """A status callback (its signed POST parameters, and the query string of the callback
    URL we gave Twilio) in our words."""
    query = query or {}
    code = _as_int(params.get("ErrorCode"))
    return DeliveryReport(
        message_id=query.get("m", ""),
        attempt=_as_int(query.get("a")),
        provider_message_id=params.get("MessageSid", ""),
        status=DELIVERY_STATUSES.get(params.get("MessageStatus", "").strip().lower()),
        error_code=str(code) if code is not None else "",
        number_flag=number_flag(code),
        to_phone=params.get("To", ""),
    )


def incoming_sms(params: Mapping[str, str]) -> IncomingSms:
    """An inbound-message webhook (its signed POST parameters) in our words."""
    return IncomingSms(
        provider_message_id=params.get("MessageSid", ""),
        from_phone=params.get("From", ""),
        body=params.get("Body", ""),
    )


def _mask(number: str) -> str:
    return f"***{number[-4:]}"


def _translate(status: int | None, code: int | None) -> SendError:
    """Map Twilio's HTTP status and error code to our errors. Never quotes Twilio's message."""
    label = f"Twilio error {code} (HTTP {status})"
    if code in OPTED_OUT_CODES:
        return OptedOutNumber(label, code=str(code))
    if code in INVALID_NUMBER_CODES:
        return InvalidNumber(label, code=str(code))
    if code in UNREACHABLE_CODES:
        return TransientSendError(label, code=str(code))
    reported = str(code or status or "unknown")
    if status is None or status == 429 or status >= 500:
        return TransientSendError(label, code=reported)
    return PermanentSendError(label, code=reported)


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class TwilioSmsBackend(SmsBackend):
    def __init__(self) -> None:
        self.account_sid: str = settings.TWILIO_ACCOUNT_SID
        self.auth_token: str = settings.TWILIO_AUTH_TOKEN
        self.messaging_service_sid: str = settings.TWILIO_MESSAGING_SERVICE_SID
        self.from_number: str = settings.TWILIO_FROM_NUMBER
        self.base_url: str = settings.TWILIO_API_BASE_URL
        self.timeout = float(settings.TWILIO_TIMEOUT_SECONDS)
        if not (self.account_sid and self.auth_token):
            raise ImproperlyConfigured(
                "TwilioSmsBackend needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN."
            )
        if not (self.messaging_service_sid or self.from_number):
            raise ImproperlyConfigured(
                "TwilioSmsBackend needs TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER."
            )
        if self.timeout <= 0:
            raise ImproperlyConfigured("TWILIO_TIMEOUT_SECONDS must be positive.")

    def send(self, sms: OutgoingSms) -> SentSms:
        sender: dict[str, str]
        error: SendError | None = None
        if self.messaging_service_sid:
            # Preferred: a Messaging Service pools numbers and handles STOP/HELP itself.
            sender = {"messaging_service_sid": self.messaging_service_sid}
        else:
            sender = {"from_": self.from_number}
        try:
            client = sdk_client(self.account_sid, self.auth_token, self.base_url, self.timeout)
            message = client.messages.create(
                to=sms.to,
                body=sms.body,
                status_callback=status_callback_url(sms.message_id, sms.attempt),
                **sender,
            )
            sid = message.sid
            status = message.status
        except TwilioRestException as exc:
            error = _translate(_as_int(exc.status), _as_int(exc.code))
        except requests.ReadTimeout:
            error = UncertainSendError("Twilio did not answer in time", code="timeout")
        except requests.RequestException:
            error = TransientSendError("Could not reach Twilio", code="network")
        except TwilioException as exc:
            # TwilioServiceException (RFC 9457 errors) carries status and code too; any
            # other TwilioException wraps a transport failure.
            status_code = _as_int(getattr(exc, "status", None))
            if status_code is None:
                error = TransientSendError("Could not reach Twilio", code="network")
            else:
                error = _translate(status_code, _as_int(getattr(exc, "code", None)))
        except ValueError:
            # A 2xx answer we cannot parse: we do not know whether Twilio took it.
            error = UncertainSendError("Unreadable answer from Twilio", code="bad_response")
        else:
            if not sid:
                # Taken or not, we cannot tell; the status callback (keyed by our id) may say.
                error = UncertainSendError("Twilio answered without a message sid", code="no_sid")
        if error is None:
            logger.info(
                "twilio accepted sms message_id=%s sid=%s status=%s to=%s",
                sms.message_id,
                sid,
                status,
                _mask(sms.to),
            )
            return SentSms(provider_message_id=str(sid), status=str(status or "sent"))

        logger.warning(
            "twilio refused sms message_id=%s to=%s error=%s code=%s",
            sms.message_id,
            _mask(sms.to),
            type(error).__name__,
            error.code,
        )
        # Raised outside the except blocks: nothing of the vendor exception (whose text may
        # quote the number) rides along as __context__ or __cause__.
        raise error


def signature_is_valid(
    url: str, params: Mapping[str, str] | dict[str, Any], signature: str
) -> bool:
    """Whether `signature` (the X-Twilio-Signature header) signs this URL and POST params.

    `url` must be the full URL Twilio requested, scheme and query string included;
    `params` may be Django's `request.POST` (a QueryDict; repeated keys are handled).
    """
    token = settings.TWILIO_AUTH_TOKEN
    if not token or not signature:
        return False
    try:
        return bool(RequestValidator(token).validate(url, params, signature))
    except Exception:  # a malformed URL or params: not a valid signature
        logger.warning("twilio signature check failed on malformed input")
        return False


def twiml_message(text: str | None) -> str:
    """TwiML answering an inbound SMS: one <Message> with `text`, or an empty <Response/>."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response.to_xml())
