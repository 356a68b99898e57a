"""A queryset whose SQL is the same on every request but for a few values, compiled once
per process: the one helper for hot paths whose ORM build costs more than the query
(booking's and refill's reads; benchmarks/README.md lists them).

Building and compiling a queryset of a dozen subqueries costs more Python than running
it. `CompiledOnce(build, stand_ins)` compiles `build(**values)` twice, with two sets of
stand-in values that no real row or clock gives: that finds where each value goes among
the parameters and proves that nothing else in the SQL depends on them (otherwise the
first call raises ImproperlyConfigured, which the tests see). A value must reach the
query as given: anything derived from it (a date from a moment, a sum) is a value of its
own. Rows come back through the ORM's own converters, so a row is what the queryset
itself would answer. No SQL is written by hand: a change to a selector changes the
statement with it. The statement is dropped when a setting changes (a rule's setting may
be one of its constants).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import connection
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators
from django.dispatch import receiver

M = TypeVar("M", bound=Model)

_ALL: weakref.WeakSet[CompiledOnce[Any]] = weakref.WeakSet()


@dataclass(frozen=True)
class _Statement:
    model: type[Model]
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, str], ...]  # (position in params, name of the value)
    converters: tuple[tuple[int, Any, tuple[Any, ...]], ...]  # (column, expression, funcs)
    fields: tuple[str, ...]  # the model's columns (none for values_list)
    model_columns: slice  # where they are in the row
    related: tuple[Any, ...]  # select_related's populators, as ModelIterable uses them
    annotations: tuple[tuple[str, int], ...]  # (name, column)


class CompiledOnce(Generic[M]):
    def __init__(
        self,
        build: Callable[..., QuerySet[M, Any]],
        stand_ins: tuple[Mapping[str, Any], Mapping[str, Any]],
    ) -> None:
        self.build, self.stand_ins = build, stand_ins
        _ALL.add(self)

    @functools.cached_property
    def _statement(self) -> _Statement:
        first, second = self.stand_ins
        compiled = []
        for values in self.stand_ins:
            compiler = self.build(**values).query.get_compiler(connection.alias)
            sql, params = compiler.as_sql()
            compiled.append((compiler, sql, tuple(params)))
        (compiler, sql, params), (_, sql2, params2) = compiled
        if sql != sql2 or len(params) != len(params2):
            raise ImproperlyConfigured(f"{self.build.__qualname__}: the SQL depends on a value.")
        slots = []
        for position, pair in enumerate(zip(params, params2, strict=True)):
            name = next((n for n in first if (first[n], second[n]) == pair), None)
            if name is not None:
                slots.append((position, name))
            elif pair[0] != pair[1]:
                raise ImproperlyConfigured(
                    f"{self.build.__qualname__}: parameter {position} is derived from a value."
                )
        if {name for _, name in slots} != set(first):
            raise ImproperlyConfigured(f"{self.build.__qualname__}: a value is not a parameter.")
        columns = [selected[0] for selected in compiler.select[: compiler.col_count]]
        converters = tuple(
            (index, expression, tuple(funcs))
            for index, (funcs, expression) in compiler.get_converters(columns).items()
        )
        klass_info = compiler.klass_info or {}
        select_fields = klass_info.get("select_fields", [])
        model_columns = (
            slice(select_fields[0], select_fields[-1] + 1) if select_fields else slice(0)
        )
        fields = tuple(selected[0].target.attname for selected in compiler.select[model_columns])
        # Django 5.2: (klass_info, select, db); the stubs know a later signature.
        populators = get_related_populators(klass_info, compiler.select, connection.alias)  # type: ignore[call-arg]
        related = tuple(populators)
        return _Statement(
            compiler.query.model,
            sql,
            params,
            tuple(slots),
            converters,
            fields,
            model_columns,
            related,
            tuple(compiler.annotation_col_map.items()),
        )

    def forget(self) -> None:
        self.__dict__.pop("_statement", None)

    def statement(self, **values: Any) -> tuple[str, list[Any]]:
        """The SQL of build(**values) and its parameters, for a caller that runs it itself
        (in binary, say): the ORM's converters are then the caller's to apply or not."""
        statement = self._statement
        params = list(statement.params)
        for position, name in statement.slots:
            params[position] = values[name]
        return statement.sql, params

    def _rows(self, values: Mapping[str, Any], *, first: bool) -> list[tuple[Any, ...]]:
        statement = self._statement
        with connection.cursor() as cursor:
            cursor.execute(*self.statement(**values))
            fetched = [cursor.fetchone()] if first else cursor.fetchall()
        rows = []
        for found in fetched:
            if found is None:
                break
            row = list(found)
            for index, expression, funcs in statement.converters:
                for func in funcs:
                    row[index] = func(row[index], expression, connection)
            rows.append(tuple(row))
        return rows

    def _instance(self, row: tuple[Any, ...]) -> M:
        statement = self._statement
        instance = statement.model.from_db(
            connection.alias, list(statement.fields), row[statement.model_columns]
        )
        for populator in statement.related:
            populator.populate(row, instance)
        for name, column in statement.annotations:
            setattr(instance, name, row[column])
        return instance  # type: ignore[return-value]

    def row(self, **values: Any) -> tuple[Any, ...] | None:
        """The first row of build(**values), converted as the ORM converts it."""
        rows = self._rows(values, first=True)
        return rows[0] if rows else None

    def first(self, **values: Any) -> M | None:
        """build(**values).first() of a model queryset, its annotations set on it and its
        select_related rows with it (as Django's ModelIterable makes them)."""
        rows = self._rows(values, first=True)
        return self._instance(rows[0]) if rows else None

    def all(self, **values: Any) -> list[M]:
        """list(build(**values)), made as first() makes one."""
        return [self._instance(row) for row in self._rows(values, first=False)]


@receiver(setting_changed)
def _settings_changed(**kwargs: Any) -> None:
    for compiled in list(_ALL):
        compiled.forget()
