"""``field__any=[...]``: membership in a list as one array parameter.

A page of 100 entries looks up the locks and scan verdicts of 100 ids; Django's
``__in`` sends ``IN (%s, %s, ...)``, preparing each value as a parameter of
its own and making a statement whose text changes with the list's length.
``__any`` sends ``= ANY(%s)`` with the list as one PostgreSQL array (the same
index scan), and ``IN`` on the other databases."""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db import models
from django.db.models import Lookup


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def _values(self) -> list:
        values = [value for value in self.rhs if value is not None]
        if not values:
            raise EmptyResultSet
        return values

    def as_sql(self, compiler, connection):
        values = self._values()
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]

    def as_postgresql(self, compiler, connection):
        values = self._values()
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, values]


models.Field.register_lookup(AnyOf)
models.ForeignObject.register_lookup(AnyOf)  # node_id__any: a foreign key's own lookups do not inherit Field's
