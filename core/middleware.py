"""Response headers every API answer needs, whatever view (or error) produced it."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

API_CACHE_CONTROL = "no-store, private"


class ApiNoStoreMiddleware:
    """`/api/` answers carry PHI: no browser, proxy or CDN may keep a copy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/api/"):
            response["Cache-Control"] = API_CACHE_CONTROL
        return response


class LazyMessageMiddleware(MessageMiddleware):
    """Django's MessageMiddleware, making the message storage only when something uses it.

    Only the admin shows messages; API requests never touch them, yet the storage (a
    cookie and a session backend) was built for each of them (see benchmarks/). An unused
    storage saves nothing at the end of the request, so skipping it changes nothing."""

    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))  # type: ignore[attr-defined]

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        storage = getattr(request, "_messages", None)
        if isinstance(storage, SimpleLazyObject) and storage._wrapped is empty:
            return response
        return super().process_response(request, response)
