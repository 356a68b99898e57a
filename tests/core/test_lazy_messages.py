"""LazyMessageMiddleware: the admin's messages as Django's MessageMiddleware keeps them,
and no message storage for a request that never uses it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.backends.cache import SessionStore
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils.functional import empty

from core.middleware import LazyMessageMiddleware


def _request() -> HttpRequest:
    request = RequestFactory().get("/admin/")
    request.session = SessionStore()
    return request


def _through(middleware_class: type[MessageMiddleware], add: bool) -> HttpResponse:
    request = _request()

    def view(request: HttpRequest) -> HttpResponse:
        if add:
            messages.info(request, "Saved.")
        return HttpResponse()

    middleware = middleware_class(view)
    middleware.process_request(request)
    return middleware.process_response(request, view(request))


def test_messages_stored_as_django_stores_them() -> None:
    lazy, django = _through(LazyMessageMiddleware, True), _through(MessageMiddleware, True)
    assert "messages" in lazy.cookies
    assert lazy.cookies.keys() == django.cookies.keys()


def test_unused_storage_never_built() -> None:
    request = _request()
    middleware = LazyMessageMiddleware(lambda request: HttpResponse())
    middleware.process_request(request)
    response = middleware.process_response(request, HttpResponse())
    assert request._messages._wrapped is empty
    assert not response.cookies
    assert not _through(MessageMiddleware, False).cookies


def test_messages_read_back() -> None:
    request = _request()
    LazyMessageMiddleware(lambda r: HttpResponse()).process_request(request)
    messages.warning(request, "Careful.")
    assert [m.message for m in messages.get_messages(request)] == ["Careful."]
