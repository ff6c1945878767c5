"""The one way to walk the file tree: recursive CTEs, one query whatever the depth.

- ``walk_down(space_id, keys)`` follows a path of name keys from the space's
  root and returns the live nodes found, root first (shorter than the path
  when something is missing);
- ``walk_up(node_id)`` returns a node and its ancestors, root first, with
  their names and whether they are in the trash;
- ``descendant_ids`` / ``ancestor_ids_sql`` give ids below / above a node, as
  a list or as SQL to use inside another query (locks, subtrees, labels).

PostgreSQL and SQLite both run recursive CTEs; only reading the n-th element
of the path differs (a text array on PostgreSQL, a JSON array on SQLite).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import connection

from portal.files.models import FileVersion, Node

NODES = Node._meta.db_table
VERSIONS = FileVersion._meta.db_table
_COLUMNS = [field.column for field in Node._meta.concrete_fields]
_ATTNAMES = [field.attname for field in Node._meta.concrete_fields]

# The ids of a node and its ancestors, the node first (one query, any depth).
ANCESTOR_IDS_SQL = (f"WITH RECURSIVE up(id, parent_id) AS (SELECT id, parent_id FROM {NODES} WHERE id = %s "
                    f"UNION ALL SELECT n.id, n.parent_id FROM {NODES} n JOIN up ON n.id = up.parent_id) "
                    "SELECT id FROM up")
# The ids of the live (not trashed) nodes below a folder.
LIVE_DESCENDANT_IDS_SQL = (
    f"WITH RECURSIVE down(id) AS (SELECT id FROM {NODES} WHERE parent_id = %s AND trashed_at IS NULL "
    f"UNION ALL SELECT n.id FROM {NODES} n JOIN down ON n.parent_id = down.id WHERE n.trashed_at IS NULL) "
    "SELECT id FROM down")
# The ids of everything below a node, trashed or not (purging a subtree).
DESCENDANT_IDS_SQL = (f"WITH RECURSIVE down(id) AS (SELECT id FROM {NODES} WHERE parent_id = %s "
                      f"UNION ALL SELECT n.id FROM {NODES} n JOIN down ON n.parent_id = down.id) "
                      "SELECT id FROM down")
# The ids of a node and everything below it, trashed or not: for ``x IN (...)`` in a statement that changes a
# subtree's rows. Never ``x = %s OR x IN (descendants)``: PostgreSQL cannot use an index for the OR and
# scans the whole table with the subtree as a subplan per row.
SUBTREE_IDS_SQL = (f"WITH RECURSIVE down(id) AS (SELECT id FROM {NODES} WHERE id = %s "
                   f"UNION ALL SELECT n.id FROM {NODES} n JOIN down ON n.parent_id = down.id) "
                   "SELECT id FROM down")


def _key_at(depth_column: str) -> tuple[str, callable]:
    """SQL reading the key at ``depth_column`` (0-based) of the path parameter,
    and how to pass the path."""
    if connection.vendor == "postgresql":
        return f"(%s::text[])[{depth_column} + 1]", list
    return f"json_extract(%s, '$[' || {depth_column} || ']')", json.dumps


def walk_down(space_id: int, keys: list[str], *, hold: bool = False) -> list[Node]:
    """The live nodes along ``keys`` (name keys) from the space's root: the
    root, then one node per key found, stopping at the first missing one.
    Each node's ``current_version`` comes with its number (other fields of
    the version load on use). ``hold``: the nodes found are row-locked FOR KEY
    SHARE in the same statement, as a write holds them (locks.selectors.hold_rows;
    PostgreSQL, inside a transaction)."""
    cte, params = walk_down_cte(space_id, keys)
    columns = ", ".join(f"n.{column}" for column in _COLUMNS)
    sql = (f"{cte} SELECT {columns}, v.number FROM walk JOIN {NODES} n ON n.id = walk.id "
           f"LEFT JOIN {VERSIONS} v ON v.id = n.current_version_id ORDER BY walk.depth")
    if hold and connection.vendor == "postgresql" and connection.in_atomic_block:
        sql += " FOR KEY SHARE OF n"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [_node_with_version(row) for row in rows]


def walk_down_cte(space_id: int | None, keys: list[str], *, from_node: int | None = None) -> tuple[str, list]:
    """``WITH RECURSIVE walk(depth, id) ...`` (the walk of walk_down) and its
    parameters, for a query that wants the walked ids without the rows. It
    starts at the space's root, or at the node ``from_node`` (a shared folder)."""
    key_at, as_param = _key_at("walk.depth")
    start, start_param = ("id = %s", from_node) if from_node is not None else \
        ("space_id = %s AND parent_id IS NULL", space_id)
    cte = (f"WITH RECURSIVE walk(depth, id) AS ("
           f"SELECT 0, id FROM {NODES} WHERE {start} "
           f"UNION ALL SELECT walk.depth + 1, n.id FROM walk JOIN {NODES} n ON n.parent_id = walk.id "
           f"WHERE walk.depth < %s AND n.trashed_at IS NULL AND n.name_key = {key_at})")
    return cte, [start_param, len(keys), as_param(keys)]


def _node_with_version(row) -> Node:
    node = Node.from_db(connection.alias, _ATTNAMES, row[:-1])
    if node.current_version_id is not None:
        node.current_version = FileVersion.from_db(connection.alias, ["id", "node_id", "number"],
                                                   (node.current_version_id, node.pk, row[-1]))
    return node


@dataclass(frozen=True)
class Step:
    """One node on the way from the root to a node (walk_up)."""

    id: int
    parent_id: int | None
    name: str
    trashed: bool


def walk_up_cte(start: str) -> str:
    """``WITH RECURSIVE up(id, parent_id, name, trashed_at, depth)``: the node
    whose id is the SQL ``start`` (a parameter, or a column of an outer query
    for a correlated subquery) at depth 0, then its ancestors up to the root."""
    return (f"WITH RECURSIVE up(id, parent_id, name, trashed_at, depth) AS ("
            f"SELECT n.id, n.parent_id, n.name, n.trashed_at, 0 FROM {NODES} n WHERE n.id = {start} "
            f"UNION ALL SELECT p.id, p.parent_id, p.name, p.trashed_at, up.depth + 1 "
            f"FROM {NODES} p JOIN up ON p.id = up.parent_id) ")


def walk_up(node_id: int) -> list[Step]:
    """The node and its ancestors, root first."""
    sql = walk_up_cte("%s") + "SELECT id, parent_id, name, trashed_at IS NOT NULL FROM up ORDER BY depth DESC"
    with connection.cursor() as cursor:
        cursor.execute(sql, [node_id])
        return [Step(id, parent_id, name, bool(trashed)) for id, parent_id, name, trashed in cursor.fetchall()]


def walks_up(node_ids: list[int]) -> dict[int, list[Step]]:
    """walk_up for many nodes in one query: each id's node and ancestors, root first."""
    if not node_ids:
        return {}
    marks = ", ".join(["%s"] * len(node_ids))
    sql = (f"WITH RECURSIVE up(start, id, parent_id, name, trashed, depth) AS ("
           f"SELECT id, id, parent_id, name, trashed_at IS NOT NULL, 0 FROM {NODES} WHERE id IN ({marks}) "
           f"UNION ALL SELECT up.start, n.id, n.parent_id, n.name, n.trashed_at IS NOT NULL, up.depth + 1 "
           f"FROM {NODES} n JOIN up ON n.id = up.parent_id) "
           "SELECT start, id, parent_id, name, trashed FROM up ORDER BY start, depth DESC")
    walks: dict[int, list[Step]] = {node_id: [] for node_id in node_ids}
    with connection.cursor() as cursor:
        cursor.execute(sql, list(node_ids))
        for start, id, parent_id, name, trashed in cursor.fetchall():
            walks[start].append(Step(id, parent_id, name, bool(trashed)))
    return walks


def descendant_ids(node_id: int, *, live_only: bool = True) -> list[int]:
    """The ids below a node (not the node itself), in one query."""
    with connection.cursor() as cursor:
        cursor.execute(LIVE_DESCENDANT_IDS_SQL if live_only else DESCENDANT_IDS_SQL, [node_id])
        return [row[0] for row in cursor.fetchall()]
