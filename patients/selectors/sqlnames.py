"""Table and column names for the hand-written statements, from the models' `_meta`, as
psycopg.sql identifiers: a renamed field or table changes the SQL with it."""

from __future__ import annotations

from django.db import models
from psycopg import sql


def table(model: type[models.Model]) -> sql.Identifier:
    return sql.Identifier(model._meta.db_table)


def column(model: type[models.Model], name: str, alias: str | None = None) -> sql.Composable:
    """The column of field `name` (`alias`.column when an alias is given)."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field) and field.column  # a concrete field
    if alias is None:
        return sql.Identifier(field.column)
    return sql.Identifier(alias, field.column)
