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
physicians' ids as one array): compiled once per process (core.compiled), its ORM build
cost as much as its run.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final

from django.contrib.postgres.aggregates import ArrayAgg
from django.contrib.postgres.fields import ArrayField
from django.db import connection
from django.db.models import BigIntegerField, BooleanField, F, Func, QuerySet, Value
from psycopg import postgres, pq

from core.compiled import CompiledOnce
from scheduling.models import ACTIVE_STATUSES, Appointment
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
    physician_pks: list[int], range_start: datetime, range_end: datetime
) -> dict[int, Busy]:
    """The busy ranges of each physician meeting [range_start, range_end)."""
    with busy_ranges(physician_pks, range_start, range_end) as read:
        return read()


@contextmanager
def busy_ranges(
    physician_pks: list[int], range_start: datetime, range_end: datetime
) -> Iterator[Callable[[], dict[int, Busy]]]:
    """busy_by_physician, its statement sent on entering (pipeline mode): what the block
    does in the meantime runs while the server reads the ranges, and the callable given
    waits for them and reads them."""
    if not physician_pks:
        yield dict  # (the ORM would not run a statement that can match nothing)
        return
    # CompiledOnce reads text rows through the ORM's converters; these are read in binary
    # (no converter applies to arrays), so only its statement is taken.
    sql, params = _BUSY.statement(
        physician_pks=physician_pks, range_start=range_start, range_end=range_end
    )
    connection.ensure_connection()
    with connection.connection.pipeline(), connection.cursor() as cursor:
        cursor.cursor.format = pq.Format.BINARY
        cursor.cursor.adapters.register_loader(_TIMESTAMPTZ, _INT8_LOADER)
        cursor.execute(sql, params)
        yield lambda: {pk: Busy(starts, ends) for pk, starts, ends in cursor.fetchall()}


def busy_queryset(
    *, physician_pks: list[int], range_start: datetime, range_end: datetime
) -> QuerySet[Appointment, Any]:
    """(physician id, starts, ends) of the active appointments of the physicians meeting
    [range_start, range_end), by physician."""
    pks = Value(physician_pks, output_field=ArrayField(BigIntegerField()))
    return (
        Appointment.objects.filter(
            _AnyOf(F("physician_id"), pks),
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


class _AnyOf(Func):
    """`column = ANY(array)`: the ids as one array parameter, so the statement is the same
    whatever their number (`__in` makes one parameter each). The same plan as `IN`: the
    index `appointment_busy_ranges` searched for each id, in its order."""

    output_field = BooleanField()

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:  # type: ignore[override]
        column, array = self.get_source_expressions()
        column_sql, column_params = compiler.compile(column)
        array_sql, array_params = compiler.compile(array)
        return f"{column_sql} = ANY({array_sql})", (*column_params, *array_params)


_BUSY: Final = CompiledOnce(
    busy_queryset,
    (
        {
            "physician_pks": [-1_000_001],
            "range_start": datetime(1901, 1, 1, tzinfo=UTC),
            "range_end": datetime(1911, 1, 1, tzinfo=UTC),
        },
        {
            "physician_pks": [-1_000_002],
            "range_start": datetime(1902, 2, 2, tzinfo=UTC),
            "range_end": datetime(1912, 2, 2, tzinfo=UTC),
        },
    ),
)

_TIMESTAMPTZ = postgres.types["timestamptz"].oid
_INT8_LOADER = postgres.adapters.get_loader(postgres.types["int8"].oid, pq.Format.BINARY)
