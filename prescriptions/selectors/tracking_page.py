"""The ops delivery list's usual page as one hand-written statement: the fast path of
tracking.tracking_page_audited() over scoping.orders_visible_to(ops admin) filtered by
status and state, which stays the readable definition (and answers every other filter).

Building the FilterSet's form, compiling the ORM page and its COUNT, and a third round
trip for the audit cost several times running them, so the API reads a page filtered by
status and/or state only here: the page, its total and a read event for every order on
it, in one round trip. benchmarks/README.md records what it buys ("deliveries").

The statement restates three things: that an ops admin sees every order
(scoping.orders_visible_to), the status and state filters (api.tracking.DeliveryFilter:
any of the statuses, the ship-to state; over the orders, and over the tally that gives
their total) and the list's order (tracking.ORDERING).
tests/prescriptions/test_tracking_page.py holds each to its definition over every case
they distinguish; change both together. Names come from the models' `_meta`.
"""

from __future__ import annotations

import functools
from typing import LiteralString

from django.db import connection
from psycopg import sql
from psycopg.types.datetime import TimestamptzLoader

from accounts.models import Role, State, User
from audit.services import audit_reads_params, audit_reads_sql
from patients.models import Patient
from patients.selectors.sqlnames import column, table
from prescriptions.models import Carrier, DeliveryOrder, DeliveryTally, OrderStatus, Pharmacy
from prescriptions.selectors.tracking import ORDER_TYPE, TrackingPage, TrackingRow

# DeliveryOrder's columns the page reads, named after them in the page CTE.
_ORDER_FIELDS = (
    "id", "public_id", "number", "kind", "status", "status_changed_at", "ship_to_state",
    "ship_to_county", "pharmacy", "carrier", "tracking_number",
    "created_at", "sent_to_pharmacy_at", "shipped_at", "delivered_at", "overdue_at",
    "overdue_reason", "patient",
)  # fmt: skip


def _names() -> dict[str, sql.Composable]:
    """{o_status} is DeliveryOrder.status under alias o, {order} its table, and so on;
    {page_columns} the order's columns as the page CTE names them."""
    names: dict[str, sql.Composable] = {
        "order": table(DeliveryOrder),
        "pharmacy": table(Pharmacy),
        "carrier": table(Carrier),
        "patient": table(Patient),
        "tally": table(DeliveryTally),
        "page_columns": sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(column(DeliveryOrder, name, "o"), sql.Identifier(name))
            for name in _ORDER_FIELDS
        ),
    }
    for alias, model, fields in (
        ("o", DeliveryOrder, ("status", "ship_to_state", "created_at", "id")),
        ("t", DeliveryTally, ("status", "ship_to_state", "orders")),
        ("ph", Pharmacy, ("id", "public_id", "name")),
        ("c", Carrier, ("id", "code", "name", "tracking_url_template")),
        ("p", Patient, ("id", "public_id")),
    ):
        for name in fields:
            names[f"{alias}_{name}"] = column(model, name, alias)
    return names


# Every order (an ops admin's scope), filtered as DeliveryFilter filters by status and state.
_MATCHING: LiteralString = "FROM {order} o WHERE TRUE {by_status} {by_state}"
_BY_STATUS: LiteralString = "AND {status} IN ({statuses})"
_BY_STATE: LiteralString = "AND {ship_to_state} = {state}"
# How many they are: the tally's rows (prescriptions.models.tally) for the same statuses
# and state, summed (a COUNT read every matching order: 100,000 unfiltered).
_TOTAL: LiteralString = """
    SELECT coalesce(sum({t_orders}), 0) FROM {tally} t WHERE TRUE {by_status} {by_state}
"""

# The page of the matching orders, newest first (tracking.ORDERING; the id breaks ties).
_PAGE_ROWS: LiteralString = """
    SELECT {page_columns} {matching}
    ORDER BY {o_created_at} DESC, {o_id} DESC
    LIMIT {limit} OFFSET {offset}
"""
# The same page for statuses (in a state): each status's newest `reach` orders, merged.
# An IN list over the status index returns rows in status order, so PostgreSQL walked the
# created_at index and skipped every other order (about 1,600 heap rows for 25 shown);
# one branch per status reads its own slice of `order_status_state_created` in order and
# Merge Append keeps the order: the page read ~5x faster (EXPLAIN ANALYZE, bench data).
_PAGE_MERGED: LiteralString = """
    SELECT * FROM ({branches}) merged
    ORDER BY merged.{created_at} DESC, merged.{id} DESC
    LIMIT {limit} OFFSET {offset}
"""
_BRANCH: LiteralString = """
    (SELECT {page_columns} FROM {order} o WHERE {o_status} = {status} {by_state}
     ORDER BY {o_created_at} DESC, {o_id} DESC LIMIT {reach})
"""

_PAGE: LiteralString = """
    WITH page AS ({page_rows}),
    shown AS (
        SELECT page.*, {ph_public_id} AS pharmacy_public_id, {ph_name} AS pharmacy_name,
               {c_code} AS carrier_code, {c_name} AS carrier_name,
               {c_tracking_url_template} AS tracking_url_template,
               {p_public_id} AS patient_public_id
        FROM page
        JOIN {pharmacy} ph ON {ph_id} = page.pharmacy
        LEFT JOIN {carrier} c ON {c_id} = page.carrier
        JOIN {patient} p ON {p_id} = page.patient
    ),
    audited AS ({audit})
    SELECT shown.public_id, shown.number, shown.kind, shown.status, shown.status_changed_at,
           shown.ship_to_state, shown.ship_to_county,
           shown.pharmacy_public_id, shown.pharmacy_name, shown.carrier_code,
           shown.carrier_name, shown.tracking_url_template, shown.tracking_number,
           shown.created_at, shown.sent_to_pharmacy_at, shown.shipped_at,
           shown.delivered_at, shown.overdue_at, shown.overdue_reason,
           shown.patient_public_id,
           ({total}) AS total
    FROM shown
    ORDER BY shown.created_at DESC, shown.id DESC
"""


@functools.lru_cache(maxsize=512)
def _page_sql(
    *,
    statuses: tuple[str, ...] | None,
    state: str | None,
    limit: int,
    offset: int,
    commit_async: bool,
) -> str:
    """The statement of tracking_page_fast_audited() for one filter and page. The filter and
    the page are constants of the text, not parameters: with parameters PostgreSQL plans
    every execution again (a generic plan cannot know how many rows they select, so it
    looks costlier than planning), which costs more than the page itself; with constants
    a text run again (the first page of the usual filter) is prepared once and planned
    once. Only validated choices and integers are written in, as literals."""
    names = _names()

    def fragment(text: LiteralString, **more: sql.Composable) -> sql.Composed:
        return sql.SQL(text).format(**names, **more)

    def filters(alias: str) -> dict[str, sql.Composable]:
        """{by_status} and {by_state} over the columns of `alias`."""
        by_status: sql.Composable = sql.SQL("")
        if statuses is not None:
            by_status = fragment(
                _BY_STATUS,
                status=names[f"{alias}_status"],
                statuses=sql.SQL(", ").join(sql.Literal(s) for s in statuses),
            )
        by_state: sql.Composable = sql.SQL("")
        if state is not None:
            by_state = fragment(
                _BY_STATE, ship_to_state=names[f"{alias}_ship_to_state"], state=sql.Literal(state)
            )
        return {"by_status": by_status, "by_state": by_state}

    on_orders = filters("o")
    by_state = on_orders["by_state"]
    matching = fragment(_MATCHING, **on_orders)
    total = fragment(_TOTAL, **filters("t"))
    page_at = {"limit": sql.Literal(limit), "offset": sql.Literal(offset)}
    if statuses is None:
        page_rows = fragment(_PAGE_ROWS, matching=matching, **page_at)
    else:
        branches = sql.SQL(" UNION ALL ").join(
            fragment(
                _BRANCH, status=sql.Literal(s), by_state=by_state, reach=sql.Literal(limit + offset)
            )
            for s in statuses
        )
        page_rows = fragment(
            _PAGE_MERGED,
            branches=branches,
            created_at=sql.Identifier("created_at"),
            id=sql.Identifier("id"),
            **page_at,
        )
    shown_id = sql.Identifier("shown", "public_id").as_string()
    shown_patient = sql.Identifier("shown", "patient_public_id").as_string()
    # audit's own constant text; its values are bound parameters.
    audit = audit_reads_sql("shown", shown_id, shown_patient, commit_async=commit_async)
    statement = fragment(_PAGE, page_rows=page_rows, total=total, audit=sql.SQL(audit))
    return statement.as_string()


_STATUSES = frozenset(OrderStatus.values)
_STATES = frozenset([*State.values, None])
_TOTAL_AT = len(TrackingRow._fields)


def tracking_page_fast_audited(
    viewer: User,
    *,
    statuses: list[str] | None,
    state: str | None,
    offset: int,
    limit: int,
) -> TrackingPage | None:
    """tracking_page_audited(viewer, <orders_visible_to(viewer) with statuses among
    `statuses` and shipped to `state`, each when given>) in one statement whatever the page
    size: the page, its total and one read event per order on it. `statuses` and `state`
    must be valid (DeliveryFilter validates anything else). None for a viewer who is not
    an ops admin: their scope is the ORM's alone."""
    if viewer.role != Role.OPS_ADMIN:
        return None
    if not (_STATUSES.issuperset(statuses or ()) and state in _STATES):
        raise ValueError("Unknown status or state: DeliveryFilter validates them.")
    params, commit_async = audit_reads_params(actor=viewer, object_type=ORDER_TYPE)
    statement = _page_sql(
        statuses=tuple(sorted(set(statuses))) if statuses else None,  # none: no filter
        state=state,
        limit=int(limit),
        offset=int(offset),
        commit_async=commit_async,
    )
    with connection.cursor() as cursor:
        # psycopg's own timestamptz loader (C), not Django's Python subclass of it, which
        # only relabels the same instant with the connection's zone (UTC): about 100
        # timestamps a page, each parsed in Python otherwise.
        cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        cursor.execute(statement, params)
        records = cursor.fetchall()
    if not records:
        return TrackingPage([], 0 if offset == 0 else None)
    rows = [TrackingRow(*record[:_TOTAL_AT]) for record in records]
    return TrackingPage(rows, records[0][_TOTAL_AT])
