"""``field__any=[...]``: membership in a list as one array parameter.

A page of 100 entries looks up the locks and scan verdicts of 100 ids; Django's
``__in`` sends ``IN (%s, %s, ...)``, preparing each value as a parameter of
its own and making a statement whose text changes with the list's length.
``__any`` sends ``= ANY(%s::type[])`` with the list as one PostgreSQL array of
the column's type (the same index scan), and ``IN`` on the other databases."""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db import models
from django.db.models import Lookup


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def _parts(self, compiler, connection) -> tuple[str, list, list]:
        values = [value for value in self.rhs if value is not None]
        if not values:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return lhs, lhs_params, values

    def as_sql(self, compiler, connection):
        lhs, lhs_params, values = self._parts(compiler, connection)
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params, values = self._parts(compiler, connection)
        # Cast to the column's type: psycopg sends a list of small ints as smallint[], and PostgreSQL
        # cannot hash "bigint = ANY(smallint[])": each row was compared with the whole list.
        kind = self.lhs.output_field.cast_db_type(connection)
        return f"{lhs} = ANY(%s{f'::{kind}[]' if kind else ''})", [*lhs_params, values]


models.Field.register_lookup(AnyOf)
models.ForeignObject.register_lookup(AnyOf)  # node_id__any: a foreign key's own lookups do not inherit Field's
