"""Writing many rows, or many rows' fields, in one statement.

On PostgreSQL each column goes as one array, unnested by the statement: a few
parameters instead of one per value, and no SQL text that grows with the rows.
The arrays are bound on the server, in binary, rather than quoted element by
element into the statement's text as Django's cursor does (that quoting was a
fifth of the CPU of committing an import's files).
"""

from __future__ import annotations

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections, models


def rows_update(objects: list[models.Model], fields: list[str]) -> None:
    """Save ``fields`` of ``objects`` (each its own values). One UPDATE ... FROM
    unnest(...) on PostgreSQL; Django's bulk_update elsewhere (its CASE of one
    branch per row per field costs milliseconds per row to build)."""
    if not objects:
        return
    model, db = type(objects[0]), _database()
    if db.vendor != "postgresql":
        model.objects.bulk_update(objects, fields)
        return
    pk, columns = model._meta.pk, [model._meta.get_field(name) for name in fields]
    unnest, arrays = _unnest([pk, *columns], [[getattr(obj, field.attname) for obj in objects]
                                              for field in [pk, *columns]], db)
    names = ["id", *[f"c{n}" for n in range(len(columns))]]
    sets = ", ".join(f"{field.column} = v.{name}" for field, name in zip(columns, names[1:]))
    _execute_bound(db, f"UPDATE {model._meta.db_table} AS t SET {sets} FROM {unnest} AS v({', '.join(names)}) "
                       f"WHERE t.{pk.column} = v.id", arrays)


def rows_insert(model: type[models.Model], fields: list[str], rows: list[tuple], *,
                ignore_conflicts: bool = False) -> None:
    """Insert ``rows``, each a tuple of ``fields``' values (a field not named gets the column's
    default in the database, not the model's: name every NOT NULL one). One INSERT ... SELECT
    FROM unnest(...) on PostgreSQL, with no model instance built per row; Django's bulk_create
    elsewhere. ``ignore_conflicts``: a row that breaks a unique constraint is skipped."""
    if not rows:
        return
    columns, db = [model._meta.get_field(name) for name in fields], _database()
    if db.vendor != "postgresql":
        model.objects.bulk_create([model(**dict(zip([f.attname for f in columns], row))) for row in rows],
                                  ignore_conflicts=ignore_conflicts)
        return
    _insert(db, model, columns, list(zip(*rows)), " ON CONFLICT DO NOTHING" if ignore_conflicts else "")


def rows_create(objects: list[models.Model]) -> list[models.Model]:
    """``bulk_create`` of new objects (same values, no signals), each given its id: one INSERT ...
    SELECT FROM unnest(...) RETURNING on PostgreSQL; Django's bulk_create elsewhere, for objects
    that already have an id, and for values that are expressions."""
    if not objects:
        return objects
    model, db = type(objects[0]), _database()
    pk = model._meta.pk
    fields = [field for field in model._meta.concrete_fields if field is not pk]
    if db.vendor != "postgresql" or not isinstance(pk, models.AutoField) or any(obj.pk is not None for obj in objects):
        return model.objects.bulk_create(objects)
    values = [[field.pre_save(obj, True) for obj in objects] for field in fields]
    if any(hasattr(value, "resolve_expression") for column in values for value in column):
        return model.objects.bulk_create(objects)
    ids = _insert(db, model, fields, values, f" RETURNING {pk.column}")
    for obj, (new_id,) in zip(objects, ids, strict=True):  # RETURNING gives them in unnest's order, as Django relies on
        obj.pk = new_id
        obj._state.adding, obj._state.db = False, db.alias
    return objects


class _BoundCursor(psycopg.Cursor):
    """Parameters sent apart from the statement; never a prepared statement (a connection pooler
    between Coffer and PostgreSQL may not keep them)."""

    def execute(self, query, params=None, **kwargs):
        return super().execute(query, params, prepare=False, **kwargs)


def _execute_bound(db, sql: str, params: list) -> list[tuple]:
    """``sql`` in the connection's transaction through a server-binding cursor, wrapped as Django
    wraps its own (errors as django.db's, the query log, execute_wrappers); the rows it returns."""
    db.ensure_connection()
    raw = _BoundCursor(db.connection)
    with (db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _insert(db, model: type[models.Model], columns: list[models.Field], values: list, suffix: str) -> list[tuple]:
    """INSERT INTO the model's table SELECT FROM unnest(``values``, one list per column) ``suffix``."""
    unnest, arrays = _unnest(columns, values, db)
    return _execute_bound(db, f"INSERT INTO {model._meta.db_table} ({', '.join(field.column for field in columns)}) "
                              f"SELECT * FROM {unnest}{suffix}", arrays)


def _database():
    """The default database's connection itself: going through the ``connection`` proxy for each
    value prepared costs as much as preparing it."""
    return connections[DEFAULT_DB_ALIAS]


def _unnest(columns: list[models.Field], values: list, db) -> tuple[str, list[list]]:
    """``unnest(%b::type[], ...)`` and its arrays (in binary: no element escaped as text), each
    column's values prepared for the database."""
    arrays = [[field.get_db_prep_save(value, db) for value in column] for field, column in zip(columns, values)]
    return f"unnest({', '.join(f'%b::{_array_type(field, db)}[]' for field in columns)})", arrays


def _array_type(field: models.Field, db) -> str:
    """The column's type for a cast: a key's is its target's ("bigint"), never "bigserial"."""
    if field.is_relation:
        return field.target_field.rel_db_type(db)
    if isinstance(field, models.AutoField):
        return field.rel_db_type(db)
    return field.db_type(db)
