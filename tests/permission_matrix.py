"""The permission matrix's shared half: every route the URL resolver knows, and the roles a
matrix row names. Each app's tests/<app>/test_permission_matrix.py holds the literal table
(endpoint x role -> status) and checks it against `rows_of(app)`, so an endpoint added
without a row, or a row left behind by a removed endpoint, fails by name."""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from tests.actors import actor_user, client_for

ROLES = (
    "anonymous",
    "patient",
    "other_patient",
    "physician_licensed_elsewhere",
    "physician",
    "ops_admin",
)

# Apps whose endpoints each have a row in tests/<app>/test_permission_matrix.py.
MATRIX_APPS = ("accounts", "patients", "billing", "notifications", "scheduling", "prescriptions")

# Open to everyone by design, and the only routes outside an app matrix: probes, the
# OpenAPI schema and its viewer (tests/config/test_permission_matrix.py), and the Django
# admin, which has its own login and its own tests.
PUBLIC_NAMES = frozenset({"healthz", "readyz", "schema", "docs"})
PUBLIC_NAMESPACES = frozenset({"admin"})

HTTP_METHODS = ("get", "post", "put", "patch", "delete")

Row = tuple[str, str]  # (HTTP method in capitals, URL name)
Table = Mapping[Row, Mapping[str, int]]


@dataclass(frozen=True)
class Route:
    pattern: str
    name: str
    namespace: str
    methods: tuple[str, ...]
    app: str


def statuses(*codes: int) -> dict[str, int]:
    """A row's statuses, given in the order of ROLES."""
    return dict(zip(ROLES, codes, strict=True))


def view_methods(callback: Callable[..., Any]) -> tuple[str, ...]:
    """The methods a view answers: for a class-based view (DRF or Django) the ones it
    allows and implements (OPTIONS and HEAD come free with every class view and are left
    out); for a function view the list given to @require_http_methods, else GET alone."""
    view_class = getattr(callback, "view_class", None)
    if view_class is not None:
        allowed = set(view_class.http_method_names)
        return tuple(m.upper() for m in HTTP_METHODS if m in allowed and hasattr(view_class, m))
    declared = inspect.getclosurevars(callback).nonlocals.get("request_method_list")
    if declared:
        return tuple(m.upper() for m in HTTP_METHODS if m.upper() in declared)
    return ("GET",)


def _walk(
    patterns: list[Any], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(n for n in (namespace, entry.namespace or "") if n)
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), namespace, entry


def all_routes() -> list[Route]:
    routes = []
    for pattern, namespace, entry in _walk(get_resolver().url_patterns):
        view = getattr(entry.callback, "view_class", entry.callback)
        routes.append(
            Route(
                pattern=pattern,
                name=entry.name or pattern,
                namespace=namespace,
                methods=view_methods(entry.callback),
                app=view.__module__.split(".")[0],
            )
        )
    return routes


def is_public(route: Route) -> bool:
    return route.name in PUBLIC_NAMES or route.namespace.split(":")[0] in PUBLIC_NAMESPACES


def rows_of(app: str) -> set[Row]:
    """(method, URL name) for every endpoint whose view lives in `app`."""
    return {
        (method, route.name)
        for route in all_routes()
        if route.app == app and not is_public(route)
        for method in route.methods
    }


def table_mismatch(table: Table, app: str) -> str:
    """Empty when the table has exactly one row per endpoint of `app`, else what differs."""
    have, want = set(table), rows_of(app)
    lines = [f"endpoint without a row: {row}" for row in sorted(want - have)]
    lines += [f"row without an endpoint: {row}" for row in sorted(have - want)]
    lines += [
        f"row {row} names roles {sorted(roles)}, not {sorted(ROLES)}"
        for row, roles in table.items()
        if set(roles) != set(ROLES)
    ]
    return "\n".join(lines)


def cases(table: Table) -> list[Any]:
    """pytest params, one per (row, role), with readable ids."""
    return [
        pytest.param(method, name, role, status, id=f"{method} {name} {role}")
        for (method, name), statuses in table.items()
        for role, status in statuses.items()
    ]


def client_as(request: pytest.FixtureRequest, role: str) -> APIClient:
    if role == "anonymous":
        return APIClient()
    return client_for(actor_user(request, role))


def send(
    client: APIClient,
    method: str,
    name: str,
    kwargs: Mapping[str, Any] | None = None,
    body: Mapping[str, Any] | None = None,
    *,
    form: bool = False,
) -> Any:
    """JSON by default; `form` for views that read form posts (webhooks, hosted pages)."""
    url = reverse(name, kwargs=dict(kwargs or {}))
    call = getattr(client, method.lower())
    if form:
        return call(url, urlencode(body or {}), content_type="application/x-www-form-urlencoded")
    return call(url, dict(body or {}), format="json")


# Roles that must never see a trace of the `patient` actor whose objects fill the URLs.
OUTSIDERS = ("anonymous", "other_patient", "physician_licensed_elsewhere")


def traces_of(owner: Any, kwargs: Mapping[str, Any]) -> set[str]:
    """Strings that identify the `patient` actor or the objects in the URL."""
    record = owner.patient
    found = {str(owner.public_id), str(record.public_id), record.legal_last_name}
    return found | {str(value) for value in kwargs.values() if isinstance(value, uuid.UUID)}


def leaked(response: Any, traces: set[str]) -> list[str]:
    """The traces found in the body as whole words ("Rivers1" is not in "Rivers12")."""
    body = response.content.decode(errors="replace")
    return sorted(t for t in traces if re.search(rf"(?<!\w){re.escape(t)}(?!\w)", body))


# Per URL name: creates what the row needs for the `patient` actor (their intake, their
# flag...) and returns the URL's kwargs. A list endpoint's setup gives the list something
# of theirs to leak.
Setups = Mapping[str, Callable[[Any], Mapping[str, Any]]]
Bodies = Mapping[Row, Mapping[str, Any]]


def assert_row(
    request: pytest.FixtureRequest,
    row: Row,
    role: str,
    status: int,
    *,
    setups: Setups,
    bodies: Bodies,
    form_rows: frozenset[Row] = frozenset(),
) -> None:
    """Send the row's request as `role` and check the status; an outsider's success must
    carry no trace of the `patient` actor."""
    method, name = row
    owner = request.getfixturevalue("patient")
    setup = setups.get(name)
    kwargs = setup(owner) if setup else {}
    client = client_as(request, role)
    response = send(client, method, name, kwargs, bodies.get(row), form=row in form_rows)
    assert response.status_code == status, (
        f"{method} {name} as {role}: {response.status_code} {response.content[:300]!r}"
    )
    if role in OUTSIDERS and response.status_code < 400:
        found = leaked(response, traces_of(owner, kwargs))
        assert not found, f"{method} {name} shows {role} the patient's {found}"
