"""Writing many rows' fields in one statement."""

from __future__ import annotations

from django.db import connection, models


def rows_update(objects: list[models.Model], fields: list[str]) -> None:
    """Save ``fields`` of ``objects`` (each its own values). One UPDATE ... FROM
    unnest(...) on PostgreSQL; Django's bulk_update elsewhere (its CASE of one
    branch per row per field costs milliseconds per row to build)."""
    if not objects:
        return
    model = type(objects[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objects, fields)
        return
    columns = [model._meta.get_field(name) for name in fields]
    pk = model._meta.pk
    arrays = [[pk.get_db_prep_save(obj.pk, connection) for obj in objects]]
    arrays += [[field.get_db_prep_save(getattr(obj, field.attname), connection) for obj in objects]
               for field in columns]
    types = [_array_type(pk)] + [_array_type(field) for field in columns]
    names = ["id", *[f"c{n}" for n in range(len(columns))]]
    sets = ", ".join(f"{field.column} = v.{name}" for field, name in zip(columns, names[1:]))
    unnest = ", ".join(f"%s::{kind}[]" for kind in types)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {model._meta.db_table} AS t SET {sets} FROM unnest({unnest}) AS v({', '.join(names)}) "
                       f"WHERE t.{pk.column} = v.id", arrays)


def _array_type(field: models.Field) -> str:
    """The column's type for a cast: a key's is its target's ("bigint"), never "bigserial"."""
    if field.is_relation:
        return field.target_field.rel_db_type(connection)
    if isinstance(field, models.AutoField):
        return field.rel_db_type(connection)
    return field.db_type(connection)
