"""core.negotiation answers exactly what DRF's DefaultContentNegotiation answers."""

from __future__ import annotations

import pytest
from django.http import Http404
from django.test import RequestFactory
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request

from core.negotiation import ContentNegotiation


class CalendarRenderer(BaseRenderer):
    media_type = "text/calendar"
    format = "ics"


RENDERER_LISTS = [
    [JSONRenderer],
    [JSONRenderer, BrowsableAPIRenderer],
    [BrowsableAPIRenderer, JSONRenderer],
    [CalendarRenderer, JSONRenderer],
]
ACCEPTS = [
    None,
    "",
    "*/*",
    " */* ",
    "*/*,",
    "application/json",
    "application/json; indent=4",
    "application/json;q=0.5, text/html",
    "text/html",
    "text/calendar",
    "text/*",
    "image/png",
    "*/*; q=0.1",
]
QUERIES = ["", "format=json", "format=api", "format=ics", "format=xml", "other=1"]


def _answer(
    negotiation: DefaultContentNegotiation, request: Request, renderers: list, suffix: str | None
) -> object:
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers, suffix)
    except (exceptions.NotAcceptable, Http404) as exc:
        return type(exc)
    return type(renderer), media_type


@pytest.mark.parametrize("renderer_classes", RENDERER_LISTS)
@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("suffix", [None, "json", "ics"])
def test_same_answer_as_drf(
    renderer_classes: list, accept: str | None, query: str, suffix: str | None
) -> None:
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    answers = []
    for negotiation in (DefaultContentNegotiation(), ContentNegotiation()):
        request = Request(RequestFactory().get(f"/api/me?{query}", **headers))
        renderers = [cls() for cls in renderer_classes]
        answers.append(_answer(negotiation, request, renderers, suffix))
    assert answers[1] == answers[0]


def test_no_renderers_is_not_acceptable_as_in_drf() -> None:
    request = Request(RequestFactory().get("/api/me"))
    assert _answer(ContentNegotiation(), request, [], None) is exceptions.NotAcceptable


def test_api_uses_it() -> None:
    from rest_framework.views import APIView

    assert APIView.content_negotiation_class is ContentNegotiation
