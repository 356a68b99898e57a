"""Response headers every API answer needs, whatever view (or error) produced it."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
