"""API conventions shared by every app: error format, strict input, pagination."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, overload

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError

NON_FIELD = "non_field_errors"


def error_fields(detail: Any, path: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field.sub.0": ["reason", ...]}."""
    if isinstance(detail, Mapping):
        fields: dict[str, list[str]] = {}
        for key, value in detail.items():
            fields.update(error_fields(value, f"{path}.{key}" if path else str(key)))
        return fields
    if isinstance(detail, list) and not all(isinstance(item, str) for item in detail):
        fields = {}
        for index, item in enumerate(detail):
            fields.update(error_fields(item, f"{path}.{index}" if path else str(index)))
        return fields
    messages = detail if isinstance(detail, list) else [detail]
    return {path or NON_FIELD: [str(message) for message in messages]}


def _error(
    status: int,
    code: str,
    message: str,
    fields: dict[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = {"error": {"code": code, "message": message, "fields": fields or {}}}
    return Response(body, status=status, headers=headers)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every 4xx leaves the API as {"error": {"code", "message", "fields"}}."""
    if isinstance(exc, ApplicationError):
        return _error(exc.status_code, exc.code, exc.message, exc.fields, exc.headers)
    if isinstance(exc, RequestDataTooBig):
        return _error(413, "payload_too_large", "The request body is too large.")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        return _error(400, "invalid", "Some fields are invalid.", error_fields(exc.detail))
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    return _error(response.status_code, str(code), str(exc.detail), None, response.headers)


def _json_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": {}}}, status=status)


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_error(404, "not_found", "Not found.")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        return _json_error(413, "payload_too_large", "The request body is too large.")
    return _json_error(400, "bad_request", "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_error(403, "permission_denied", "You do not have permission to do this.")


def server_error(request: HttpRequest) -> JsonResponse:
    return _json_error(500, "server_error", "Something went wrong on our side.")


@overload
def iso_utc(value: datetime) -> str: ...
@overload
def iso_utc(value: None) -> None: ...
def iso_utc(value: datetime | None) -> str | None:
    """An instant as DRF's DateTimeField writes it in UTC (the API's zone): ISO 8601 with
    "Z". For answers built as plain JSON values on hot paths."""
    if value is None:
        return None
    if value.tzinfo is not UTC:  # psycopg's loader already gives UTC on this connection
        value = value.astimezone(UTC)
    return value.isoformat()[:-6] + "Z"  # in UTC it always ends "+00:00"


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only: DRF's BooleanField also takes "true", "yes", "on", 1 and "1"."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: DRF's IntegerField also takes "12", 12.0 and true."""

    default_error_messages = {"invalid": "Must be an integer."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class StrictCharField(serializers.CharField):
    """A JSON string only: DRF's CharField also takes 12 and 1.5 (as "12" and "1.5")."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


_STRICT_FIELDS: dict[type[serializers.Field], type[serializers.Field]] = {
    serializers.BooleanField: StrictBooleanField,
    serializers.IntegerField: StrictIntegerField,
    serializers.CharField: StrictCharField,
}


def strict_field(field: serializers.Field) -> serializers.Field:
    """`field`, with plain boolean, integer and string fields (list and dict items
    included) rebuilt as their strict twins from the arguments they were declared with."""
    strict = _STRICT_FIELDS.get(type(field))
    if strict is not None:
        return strict(*field._args, **field._kwargs)  # type: ignore[attr-defined]
    if isinstance(field, serializers.ListField | serializers.DictField):
        child = strict_field(field.child)
        if child is not field.child:
            child.bind(field_name="", parent=field)  # type: ignore[arg-type]
            field.child = child
    return field


class StrictSerializer(serializers.Serializer):
    """Input serializer that refuses fields it does not know, so typos never pass silently,
    and takes booleans, integers and strings only as JSON booleans, integers and strings
    (never "true" for true, "12" for 12, or 12 for "12"). Its request schema says so:
    `additionalProperties: false`."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: strict_field(field) for name, field in super().get_fields().items()}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise exceptions.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class StrictSerializerExtension(OpenApiSerializerExtension):
    """Request bodies of a StrictSerializer refuse unknown fields: the schema says so."""

    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


def document_implicit_errors(
    result: dict[str, Any], generator: Any = None, **kwargs: Any
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook for statuses no view declares itself: any
    operation that reads a bearer token answers 401 to a bad one (anonymous endpoints
    included), any that parses its body into a serializer answers 400, 413 and 415 to a
    malformed, oversized or wrongly typed one, and every paginated list answers 404 past
    its last page. Every operation answers 411 to a chunked body, 415 to a charset other
    than UTF-8 (core.http) and 429 past the per-user or per-IP rate (REST_FRAMEWORK)."""
    default_security = result.get("security", [])
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in (411, 415, 429):
                responses.setdefault(str(status), _error_response(_ERROR_DESCRIPTIONS[status]))
            security = operation.get("security", default_security)
            if any("bearerAuth" in requirement for requirement in security):
                responses.setdefault("401", _error_response(_ERROR_DESCRIPTIONS[401]))
            if _parses_body(operation):
                for status in (400, 413, 415):
                    responses.setdefault(str(status), _error_response(_ERROR_DESCRIPTIONS[status]))
            parameters = operation.get("parameters", [])
            if any(p.get("in") == "query" and p.get("name") == "page" for p in parameters):
                responses.setdefault("404", _error_response(PAGE_NOT_FOUND))
    return result


def _parses_body(operation: dict[str, Any]) -> bool:
    """A serializer's body is a component; a raw body (a signed webhook's) is inline."""
    content = operation.get("requestBody", {}).get("content", {})
    return any("$ref" in media.get("schema", {}) for media in content.values())


PAGE_NOT_FOUND = "No such page (past the last page, or not a page number)."


def _error_response(description: str) -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {"content": content, "description": description}


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100


# Past the largest OFFSET PostgreSQL takes, no page can have rows.
MAX_OFFSET = 2**63 - 1


class CountedPagination(Pagination):
    """Pagination for a list whose pages are read together with the list's total (one
    statement, no separate COUNT): the same query parameters, count, links and 404s as
    Pagination.

        return CountedPagination().respond(request, read=read, count=count)

    `read(offset, limit)` returns the page's results and the total (None when no row is
    at that offset); `count()` is asked only for `?page=last`."""

    def respond(
        self,
        request: Request,
        *,
        read: Callable[[int, int], tuple[list[Any], int | None]],
        count: Callable[[], int],
    ) -> Response:
        size = self.get_page_size(request) or self.page_size or 1
        number = self._number(request, size, count)
        results, total = read((number - 1) * size, size)
        if total is None:  # past the last page
            raise exceptions.NotFound(self.invalid_page_message)
        url = request.build_absolute_uri()
        previous = None
        if number == 2:
            previous = remove_query_param(url, self.page_query_param)
        elif number > 2:
            previous = replace_query_param(url, self.page_query_param, number - 1)
        has_next = number * size < total
        return Response(
            {
                "count": total,
                "next": replace_query_param(url, self.page_query_param, number + 1)
                if has_next
                else None,
                "previous": previous,
                "results": results,
            }
        )

    def _number(self, request: Request, size: int, count: Callable[[], int]) -> int:
        """The requested page as PageNumberPagination reads it; 404 for anything but a
        positive integer or "last"."""
        raw = request.query_params.get(self.page_query_param) or "1"
        if raw in self.last_page_strings:
            return max(1, math.ceil(count() / size))
        try:
            number = int(raw)
        except ValueError:
            number = 0
        if number < 1 or (number - 1) * size > MAX_OFFSET:
            raise exceptions.NotFound(self.invalid_page_message)
        return number


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()

    def get_fields(self) -> dict[str, serializers.Field]:
        # Declared here because a class attribute named `fields` would shadow Serializer.fields.
        fields = super().get_fields()
        fields["fields"] = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text="Each invalid field (dotted path for nested input) and its reasons.",
        )
        return fields


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


_ERROR_DESCRIPTIONS = {
    400: "Invalid input; `error.fields` names each field and the reason.",
    402: "The card was declined.",
    401: "Missing, invalid, expired or revoked access token.",
    403: "Authenticated but not allowed (role, or MFA not completed).",
    404: "Not found, or not visible to the caller.",
    409: "Conflicts with the current state.",
    411: "A chunked body without Content-Length.",
    413: "Request body too large.",
    415: "Unsupported Content-Type or charset (JSON and forms are UTF-8).",
    429: "Too many requests or attempts; see the Retry-After header.",
    502: "The payment provider refused the request.",
    503: "A provider is temporarily unavailable; retry after the Retry-After header.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """OpenAPI entries for the error statuses an endpoint can answer."""
    return {
        status: OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS[status])
        for status in statuses
    }


def enum_field(values: Iterable[str], *, help_text: str = "", **kwargs: Any) -> Any:
    """An output string with a fixed set of values, documented as an inline `enum`: a
    ChoiceField would become a named enum component, and drf-spectacular names those by
    field name, so our "status" and "outcome" would collide with other apps' (a warning,
    which fails the build)."""
    values = list(values)

    @extend_schema_field({"type": "string", "enum": values})
    class OneOfField(serializers.CharField):
        pass

    listed = "One of: " + ", ".join(f"`{v}`" for v in values) + "."
    return OneOfField(help_text=f"{help_text} {listed}".strip(), **kwargs)
