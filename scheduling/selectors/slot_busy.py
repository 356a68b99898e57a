"""The slot search's busy ranges: each candidate's active appointments as
[starts_at, blocked_until), the range the exclusion constraint keeps apart (so no two of a
physician's share a start, and their ends come in start order).

One row per physician, the instants as two arrays in start order, read from the index
`appointment_busy_ranges` alone, in its order (no sort: the aggregate's input arrives
ordered by physician and start). The rows come in binary, where a timestamptz is its
integer microseconds since 2000-01-01 UTC (PostgreSQL's own epoch), read by psycopg's own
C int8 loader: ~20,000 instants cost neither a datetime each nor arithmetic on the server
or in Python. The search works in that epoch (`Y2K`: where it starts on the 1970 one).

The statement is the ORM's own, the same for every search but for its values (the
physicians by the candidates' own subquery, not a list of ids): compiled once per process
(core.compiled), its ORM build cost as much as its run.
"""

from __future__ import annotations

import itertools
import operator
from datetime import UTC, date, datetime
from typing import Any, Final

from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection
from django.db.models import Q, QuerySet
from psycopg import postgres, pq

from core.compiled import CompiledOnce
from scheduling.models import ACTIVE_STATUSES, Appointment
from scheduling.selectors.slot_candidates import candidates_licensed
from scheduling.selectors.slot_runs import microseconds_of

# PostgreSQL's binary timestamps count from 2000-01-01 00:00 UTC.
Y2K: Final = microseconds_of(datetime(2000, 1, 1, tzinfo=UTC))


class Busy:
    """Busy intervals [start, end) in microseconds since 2000-01-01 UTC, sorted by start,
    with the running maximum of their ends (non-decreasing, so it bisects)."""

    def __init__(self, starts: list[int], ends: list[int]) -> None:
        """`starts` sorted, `ends` in the same order."""
        self.starts = starts
        self.ends = ends
        # The exclusion constraint keeps one physician's active ranges apart, so their ends
        # come in start order already and are their own running maximum; checked, not
        # assumed (one comparison per pair instead of a max() call per end).
        in_order = all(map(operator.le, ends, itertools.islice(ends, 1, None)))
        self.max_ends = ends if in_order else list(itertools.accumulate(ends, max))


def busy_by_physician(
    *,
    state: str,
    first_day: date,
    physician_pk: int | None,
    range_start: datetime,
    range_end: datetime,
) -> dict[int, Busy]:
    """The busy ranges meeting [range_start, range_end) of the search's candidates (those
    of slot_candidates.candidates for `state` from `first_day`), or of `physician_pk`."""
    values: dict[str, Any] = {"range_start": range_start, "range_end": range_end}
    if physician_pk is None:
        compiled, values = _ALL, {**values, "state": state, "first_day": first_day}
    else:
        compiled, values = _ONE, {**values, "physician_pk": physician_pk}
    # CompiledOnce reads text rows through the ORM's converters; these are read in binary
    # (no converter applies to arrays), so only its statement is taken.
    statement = compiled._statement
    params = list(statement.params)
    for position, name in statement.slots:
        params[position] = values[name]
    with connection.cursor() as cursor:
        cursor.cursor.format = pq.Format.BINARY
        cursor.cursor.adapters.register_loader(_TIMESTAMPTZ, _INT8_LOADER)
        cursor.execute(statement.sql, params)
        fetched = cursor.fetchall()
    return {physician_id: Busy(starts, ends) for physician_id, starts, ends in fetched}


def busy_queryset(
    *, physicians: Q, range_start: datetime, range_end: datetime
) -> QuerySet[Appointment, Any]:
    """(physician id, starts, ends) of the active appointments of the `physicians` (a
    condition on the appointment) meeting [range_start, range_end), by physician."""
    return (
        Appointment.objects.filter(
            physicians,
            status__in=ACTIVE_STATUSES,
            starts_at__lt=range_end,
            blocked_until__gt=range_start,
        )
        .order_by()
        .values("physician_id")
        .annotate(
            starts=ArrayAgg("starts_at", order_by="starts_at"),
            ends=ArrayAgg("blocked_until", order_by="starts_at"),
        )
        .values_list("physician_id", "starts", "ends")
    )


def candidates_busy_queryset(
    *, state: str, first_day: date, range_start: datetime, range_end: datetime
) -> QuerySet[Appointment, Any]:
    """busy_queryset for the candidates of slot_candidates.candidates."""
    licensed = candidates_licensed(state=state, first_day=first_day).values("pk")
    return busy_queryset(
        physicians=Q(physician_id__in=licensed), range_start=range_start, range_end=range_end
    )


def one_busy_queryset(
    *, physician_pk: int, range_start: datetime, range_end: datetime
) -> QuerySet[Appointment, Any]:
    """busy_queryset for one physician."""
    return busy_queryset(
        physicians=Q(physician_id=physician_pk), range_start=range_start, range_end=range_end
    )


def _moments(n: int) -> dict[str, datetime]:
    return {
        "range_start": datetime(1900 + n, n, n, tzinfo=UTC),
        "range_end": datetime(1910 + n, n, n, tzinfo=UTC),
    }


_ALL: Final = CompiledOnce(
    candidates_busy_queryset,
    (
        {"state": "Z1", "first_day": date(1921, 1, 1), **_moments(1)},
        {"state": "Z2", "first_day": date(1922, 2, 2), **_moments(2)},
    ),
)
_ONE: Final = CompiledOnce(
    one_busy_queryset,
    (
        {"physician_pk": -1_000_001, **_moments(1)},
        {"physician_pk": -1_000_002, **_moments(2)},
    ),
)

_TIMESTAMPTZ = postgres.types["timestamptz"].oid
_INT8_LOADER = postgres.adapters.get_loader(postgres.types["int8"].oid, pq.Format.BINARY)
