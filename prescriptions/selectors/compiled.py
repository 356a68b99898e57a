"""A queryset's statement compiled once per process and run with each request's values.

For a hot path whose queryset is the same on every request but for a few values (an id,
a viewer): building and compiling it costs more than running it. `compile_once` compiles
the queryset twice, with two sets of stand-in values, which locates each value's
parameter and proves that nothing else in the statement depends on them (otherwise it
raises ImproperlyConfigured, which the tests see). `Compiled.objects` runs the statement
with real values and makes the objects with Django's own converters and related
populators, as the queryset would. No SQL is written by hand: the queryset stays the
definition, and a change to it changes the statement (after a restart, or a setting
change, which the callers' caches drop). Plain model rows (with select_related) only: no
annotations, no prefetches (selectors.refill_facts handles an annotated row).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Compiled(Generic[M]):
    model: type[M]
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, str], ...]  # (position in params, name of the value)
    converters: tuple[tuple[int, tuple[Any, ...], Any], ...]  # (column, functions, expression)
    init_list: tuple[str, ...]  # the model's columns, first in each row
    populators: tuple[Any, ...]  # select_related's (Django's RelatedPopulator)

    def objects(self, values: Mapping[str, Any]) -> list[M]:
        """The queryset's objects for `values` (already prepared as the ORM's lookup
        prepares them), in the caller's connection and transaction."""
        params = list(self.params)
        for position, name in self.slots:
            params[position] = values[name]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            fetched = cursor.fetchall()
        count, found = len(self.init_list), []
        for record in fetched:
            row = list(record)
            for position, functions, expression in self.converters:
                for function in functions:
                    row[position] = function(row[position], expression, connection)
            obj = self.model.from_db(connection.alias, list(self.init_list), row[:count])
            for populator in self.populators:
                populator.populate(row, obj)
            found.append(obj)
        return found


def compile_once(
    build: Callable[..., QuerySet[M]], stand_ins: tuple[dict[str, Any], dict[str, Any]]
) -> Compiled[M]:
    """build(**stand_ins[0]) and build(**stand_ins[1]) must compile to the same SQL, their
    parameters differing only where a stand-in value sits (values no real row or clock
    gives). A FOR UPDATE queryset compiles only in a transaction."""
    compiled = []
    for values in stand_ins:
        compiler = build(**values).query.get_compiler(connection.alias)
        sql, params = compiler.as_sql()
        compiled.append((compiler, sql, tuple(params)))
    (compiler, sql, params), (_, sql2, params2) = compiled
    if sql != sql2 or len(params) != len(params2):
        raise ImproperlyConfigured(f"{build.__qualname__}: the SQL depends on the values.")
    first, second = stand_ins
    slots = []
    for position, pair in enumerate(zip(params, params2, strict=True)):
        name = next((n for n in first if pair == (first[n], second[n])), None)
        if name is not None:
            slots.append((position, name))
        elif pair[0] != pair[1]:
            raise ImproperlyConfigured(f"{build.__qualname__}: parameter {position} is derived.")
    if {name for _, name in slots} != set(first):
        raise ImproperlyConfigured(f"{build.__qualname__}: a value is not a parameter.")
    select, klass_info = compiler.select, compiler.klass_info or {}
    fields = klass_info["select_fields"]
    if fields != list(range(len(fields))) or compiler.annotation_col_map:
        raise ImproperlyConfigured(f"{build.__qualname__}: unexpected column order.")
    converters = compiler.get_converters([column for column, _, _ in select])
    return Compiled(
        model=klass_info["model"],
        sql=sql,
        params=params,
        slots=tuple(slots),
        converters=tuple((i, tuple(fns), expr) for i, (fns, expr) in converters.items()),
        init_list=tuple(select[i][0].target.attname for i in fields),
        # django-stubs describe a later Django's signature (a fetch_mode argument).
        populators=tuple(get_related_populators(klass_info, select, connection.alias)),  # type: ignore[call-arg]
    )
