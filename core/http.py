"""Refuses requests Django itself would mishandle, before anything reads request.GET/POST.

- A `charset` in Content-Type other than UTF-8 (or its ASCII subset) is 415, on any method:
  Django decodes the query string and form bodies with that charset, so `charset=rot13`
  (a codec, not a text encoding) raised in whatever middleware first touched request.GET
  or request.POST, before the error handlers. JSON is UTF-8 by RFC 8259; Stripe and
  Twilio send UTF-8.
- A query string or form body that is not valid UTF-8 once percent-decoded is 400: Django
  would silently turn it into U+FFFD.
- A body sent with `Transfer-Encoding: chunked` and no Content-Length is 411. WSGI gives
  Django no length for it (gunicorn de-chunks the stream but sets no CONTENT_LENGTH), and
  Django then reads the body as empty; we refuse rather than act on a body we did not see.

RequestGuardMiddleware sits right after audit.middleware.RequestContextMiddleware, so these
answers still carry the X-Request-ID it sets on every response. A bad charset together with
a query string fails even earlier, while Django builds the request object (WSGIRequest reads
request.GET as soon as it sees a charset), so config/wsgi.py wraps the application in
`wsgi_charset_guard`, which answers that 415 itself with a fresh X-Request-ID."""

from __future__ import annotations

import codecs
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.http import parse_header_parameters

logger = logging.getLogger(__name__)

ALLOWED_CHARSETS = frozenset({"utf-8", "ascii"})
FORM = "application/x-www-form-urlencoded"
CHARSET_MESSAGE = "Send text as UTF-8 (charset=utf-8 or none)."


def error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": {}}}, status=status)


def charset_allowed(content_type: str) -> bool:
    _, params = parse_header_parameters(content_type)
    charset = params.get("charset")
    if charset is None:
        return True
    try:
        return codecs.lookup(charset).name in ALLOWED_CHARSETS
    except LookupError:
        return False


def urlencoded_is_utf8(raw: bytes) -> bool:
    """Whether every name and value of a query string or form body decodes as strict UTF-8
    (which also excludes encoded surrogates)."""
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class RequestGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.refusal(request) or self.get_response(request)

    def refusal(self, request: HttpRequest) -> HttpResponse | None:
        content_type = request.META.get("CONTENT_TYPE", "")
        if not charset_allowed(content_type):
            return error_response(415, "unsupported_charset", CHARSET_MESSAGE)
        if request.META.get("HTTP_TRANSFER_ENCODING") and not request.META.get("CONTENT_LENGTH"):
            return error_response(
                411, "length_required", "Send the body with a Content-Length, not chunked."
            )
        query = request.META.get("QUERY_STRING", "")
        if not urlencoded_is_utf8(query.encode("latin-1", "replace")):
            return error_response(400, "bad_request", "The query string is not valid UTF-8.")
        if parse_header_parameters(content_type)[0] == FORM:
            try:
                body = request.body
            except RequestDataTooBig:
                return error_response(413, "payload_too_large", "The request body is too large.")
            if not urlencoded_is_utf8(body):
                return error_response(400, "bad_request", "The form body is not valid UTF-8.")
        return None


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def wsgi_charset_guard(app: WsgiApp) -> WsgiApp:
    """The charset check of RequestGuardMiddleware, before Django builds its request."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if charset_allowed(environ.get("CONTENT_TYPE", "")):
            return app(environ, start_response)
        request_id = uuid.uuid4().hex
        logger.info("request %s refused: unsupported charset", request_id)
        body = json.dumps(
            {"error": {"code": "unsupported_charset", "message": CHARSET_MESSAGE, "fields": {}}}
        ).encode()
        start_response(
            "415 Unsupported Media Type",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("X-Request-ID", request_id),
            ],
        )
        return [body]

    return guarded
