"""Writing many rows, or many rows' fields, in one statement.

On PostgreSQL each column goes as one array, unnested by the statement: a few
parameters instead of one per value, and no SQL text that grows with the rows.
"""

from __future__ import annotations

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
    with db.cursor() as cursor:
        cursor.execute(f"UPDATE {model._meta.db_table} AS t SET {sets} FROM {unnest} AS v({', '.join(names)}) "
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
    unnest, arrays = _unnest(columns, list(zip(*rows)), db)
    conflicts = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    with db.cursor() as cursor:
        cursor.execute(f"INSERT INTO {model._meta.db_table} ({', '.join(field.column for field in columns)}) "
                       f"SELECT * FROM {unnest}{conflicts}", arrays)


def _database():
    """The default database's connection itself: going through the ``connection`` proxy for each
    value prepared costs as much as preparing it."""
    return connections[DEFAULT_DB_ALIAS]


def _unnest(columns: list[models.Field], values: list, db) -> tuple[str, list[list]]:
    """``unnest(%s::type[], ...)`` and its arrays: each column's values prepared for the database."""
    arrays = [[field.get_db_prep_save(value, db) for value in column] for field, column in zip(columns, values)]
    return f"unnest({', '.join(f'%s::{_array_type(field, db)}[]' for field in columns)})", arrays


def _array_type(field: models.Field, db) -> str:
    """The column's type for a cast: a key's is its target's ("bigint"), never "bigserial"."""
    if field.is_relation:
        return field.target_field.rel_db_type(db)
    if isinstance(field, models.AutoField):
        return field.rel_db_type(db)
    return field.db_type(db)
