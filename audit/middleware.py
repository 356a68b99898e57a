from __future__ import annotations

import ipaddress
import logging
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from audit import context

_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")
CLIENT_REQUEST_ID_MAX_LENGTH = 64


def client_request_id(request: HttpRequest) -> str:
    """The caller's X-Request-ID as printable ASCII, at most 64 characters."""
    # META, not request.headers: the same value, without building the header mapping that
    # nothing else on an API request needs (HTTP_X_REQUEST_ID is what headers reads).
    incoming = request.META.get("HTTP_X_REQUEST_ID", "")
    return _NOT_PRINTABLE_ASCII.sub("", incoming)[:CLIENT_REQUEST_ID_MAX_LENGTH]


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the address our own proxies saw when NUM_PROXIES says there are some."""
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies and _is_ip(hops[-proxies]):
            return hops[-proxies]
    remote = request.META.get("REMOTE_ADDR", "")
    return remote if _is_ip(remote) else None


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


class RequestContextMiddleware:
    """Gives every request an id of our own for logs and audit rows (a client could reuse
    someone else's to blur the trail); the client's X-Request-ID is kept beside it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = uuid.uuid4().hex
        token = context.activate(
            context.RequestContext(
                request_id=request_id,
                ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
                client_request_id=client_request_id(request),
            )
        )
        try:
            response = self.get_response(request)
        finally:
            context.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = context.current().request_id or "-"
        return True
