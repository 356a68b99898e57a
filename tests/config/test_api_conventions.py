"""Bad input gets a 4xx in one error format, never a 500, and changes nothing."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from accounts.models import User
from core.api import StrictSerializer
from tests.actors import client_for

pytestmark = pytest.mark.django_db


def error_of(response):
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def test_malformed_json_is_400(api):
    response = api.post("/api/auth/login", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


def test_wrong_types_name_the_field(api):
    response = api.post("/api/auth/register", {"email": ["a@b.c"], "password": 12}, format="json")
    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert "email" in fields
    assert not User.objects.exists()


def test_top_level_list_is_400(api):
    response = api.post("/api/auth/login", [1, 2], format="json")
    assert response.status_code == 400
    assert "non_field_errors" in error_of(response)["fields"]


def test_unknown_fields_are_refused(api):
    response = api.post(
        "/api/auth/register",
        {"email": "x@example.test", "password": "a sturdy passphrase", "role": "ops_admin"},
        format="json",
    )
    assert response.status_code == 400
    assert error_of(response)["fields"] == {"role": ["Unknown field."]}
    assert not User.objects.exists()


def test_missing_fields_are_named(api):
    fields = error_of(api.post("/api/auth/login", {}, format="json"))["fields"]
    assert set(fields) == {"email", "password"}


def test_oversized_body_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = api.post(
        "/api/auth/login", data='{"email": "' + "a" * 5000 + '"}', content_type="application/json"
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_wrong_content_type_is_415(api):
    response = api.post("/api/auth/login", data="email=a", content_type="text/plain")
    assert response.status_code == 415
    error_of(response)


def test_unknown_path_and_bad_uuid_are_json_404(api):
    assert error_of(api.get("/api/nope"))["code"] == "not_found"
    assert api.get("/api/patients/not-a-uuid").status_code == 404


def test_wrong_method_is_405(api):
    response = api.get("/api/auth/login")
    assert response.status_code == 405
    error_of(response)


def test_healthz_touches_nothing_and_readyz_checks_both(api, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert api.get("/healthz").status_code == 200
    ready = api.get("/readyz").json()
    assert ready == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}


def test_response_carries_request_id(api):
    assert len(api.get("/healthz")["X-Request-ID"]) >= 8


def test_openapi_schema_documents_every_operation_with_errors(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert schema["openapi"].startswith("3.")
    operations = [
        (path, method, op) for path, item in schema["paths"].items() for method, op in item.items()
    ]
    assert len(operations) >= 8
    for path, method, op in operations:
        codes = {code for code in op["responses"] if code.startswith("4")}
        assert codes, f"{method.upper()} {path} documents no error responses"
    assert api.get("/api/docs/").status_code == 200


def test_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert (tmp_path / "s.yml").read_text().startswith("openapi: 3")


# --- the schema tells the truth ------------------------------------------------------------


@pytest.fixture
def schema(api):
    return api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def operations_of(schema):
    return [
        (f"{method.upper()} {path}", op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
    ]


def test_request_bodies_refuse_unknown_fields_in_the_schema(schema):
    """Every request body is a StrictSerializer, so each says `additionalProperties: false`."""
    requests = {
        name: component
        for name, component in schema["components"]["schemas"].items()
        if name.endswith("Request")
    }
    assert "CredentialsInRequest" in requests
    loose = [name for name, body in requests.items() if body.get("additionalProperties", True)]
    assert loose == []


def test_paginated_lists_document_404_for_a_page_past_the_end(schema, patient):
    paginated = [
        label
        for label, op in operations_of(schema)
        if any(p["in"] == "query" and p["name"] == "page" for p in op.get("parameters", []))
    ]
    assert "GET /api/billing/invoices" in paginated
    undocumented = [
        label
        for label, op in operations_of(schema)
        if label in paginated and "404" not in op["responses"]
    ]
    assert undocumented == []
    assert client_for(patient).get("/api/billing/invoices?page=99").status_code == 404


def header_parameters(schema, path):
    op = schema["paths"][path]["post"]
    return {p["name"]: p["required"] for p in op.get("parameters", []) if p["in"] == "header"}


def test_webhook_signature_headers_are_required_in_the_schema(schema):
    assert header_parameters(schema, "/api/billing/stripe/webhook") == {"Stripe-Signature": True}
    for path in ("/api/notifications/twilio/inbound", "/api/notifications/twilio/status"):
        assert header_parameters(schema, path) == {"X-Twilio-Signature": True}


def test_patch_bodies_document_what_they_require(schema):
    body = schema["paths"]["/api/notifications/preferences"]["patch"]["requestBody"]
    assert body["required"] is True
    name = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][name]["required"] == ["consents"]


# --- booleans and integers are not coerced ---------------------------------------------------


class Strict(StrictSerializer):
    flag = serializers.BooleanField()
    count = serializers.IntegerField(min_value=1, required=False)
    counts = serializers.ListField(child=serializers.IntegerField(), required=False)
    token = serializers.CharField(max_length=8, required=False)


@pytest.mark.parametrize("flag", ["true", "1", 1, 0, "on", None])
def test_strict_booleans_take_only_json_booleans(flag):
    data = Strict(data={"flag": flag})
    assert not data.is_valid()
    assert set(data.errors) == {"flag"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("count", "12"), ("count", 12.0), ("count", True), ("counts", ["3"]), ("counts", [False])],
)
def test_strict_integers_take_only_json_integers(field, value):
    data = Strict(data={"flag": True, field: value})
    assert not data.is_valid()
    assert set(data.errors) == {field}


@pytest.mark.parametrize("token", [12, 1.5, True, ["a"], {"a": "b"}])
def test_strict_strings_take_only_json_strings(token):
    data = Strict(data={"flag": True, "token": token})
    assert not data.is_valid()
    assert set(data.errors) == {"token"}


def test_strict_fields_keep_their_declared_bounds_and_take_real_values():
    assert not Strict(data={"flag": True, "count": 0}).is_valid()
    assert not Strict(data={"flag": True, "token": "123456789"}).is_valid()
    data = Strict(data={"flag": False, "count": 12, "counts": [1, 2], "token": " ab "})
    assert data.is_valid(), data.errors
    assert data.validated_data == {"flag": False, "count": 12, "counts": [1, 2], "token": "ab"}


def test_a_quoted_integer_is_refused_by_the_api(patient):
    response = client_for(patient).post("/api/moods", {"score": "7"}, format="json")
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"score"}


def test_security_follows_the_authenticators(schema):
    """An endpoint that reads no bearer token claims none; one that does documents 401."""

    def claims_token(op):
        return any("bearerAuth" in requirement for requirement in op.get("security", []))

    operations = dict(operations_of(schema))
    for label in ("POST /api/auth/register", "POST /api/billing/stripe/webhook"):
        assert not claims_token(operations[label]), label
    assert claims_token(operations["GET /api/me"])
    undocumented = [
        label
        for label, op in operations.items()
        if claims_token(op) and "401" not in op["responses"]
    ]
    assert undocumented == []


def test_operations_that_parse_a_body_document_its_refusals(schema, patient):
    parsing = {
        label: op
        for label, op in operations_of(schema)
        if "$ref"
        in op.get("requestBody", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema", {})
    }
    assert "POST /api/moods" in parsing
    undocumented = [
        label for label, op in parsing.items() if not {"400", "413", "415"} <= set(op["responses"])
    ]
    assert undocumented == []
    response = client_for(patient).post("/api/moods", data="score=7", content_type="text/plain")
    assert response.status_code == 415
