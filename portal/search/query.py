"""Reading the index: the user's words against names, paths and text, with
the caller's access applied in the SQL itself (a membership EXISTS), never
by filtering rows afterwards, and the trash left out.

Ranking: exact name, then name prefix, then every word in the name, then
every word in the name and path, then the rest (text matches); newer first
within a rank. The last word matches as a prefix (results as you type).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone

from django.db import connection
from django.utils import timezone

from portal.files import names
from portal.search.index import tokens
from portal.search.models import SearchDoc
from portal.spaces.models import Space
from portal.spaces.selectors import member_space_ids_sql

DOCS, SPACES = SearchDoc._meta.db_table, Space._meta.db_table
MAX_QUERY_WORDS = 12


@dataclass(frozen=True)
class Filters:
    space_id: int | None = None
    file_type: str | None = None
    modified_after: datetime | None = None
    modified_before: datetime | None = None
    size_min: int | None = None
    size_max: int | None = None
    owner_id: int | None = None


@dataclass(frozen=True)
class Hit:
    """One result row, with everything a results table shows."""

    node_id: int
    space_id: int
    space_name: str
    kind: str
    name: str
    parent_path: str
    size: int
    modified_at: datetime
    file_type: str
    rank: int = 4

    def __post_init__(self):
        # SQLite hands raw SELECTs naive UTC datetimes (or text); the page shows them in the user's zone.
        moment = self.modified_at
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        if moment is not None and timezone.is_naive(moment):
            object.__setattr__(self, "modified_at", timezone.make_aware(moment, dt_timezone.utc))

    @property
    def is_folder(self) -> bool:
        return self.kind == "folder"

    @property
    def path(self) -> str:
        return self.parent_path.rstrip("/") + "/" + self.name


@dataclass(frozen=True)
class Terms:
    words: tuple[str, ...]
    name_key: str

    def __bool__(self) -> bool:
        return bool(self.words)


def terms_of(q: str) -> Terms:
    """The user's words segmented as the index was (jieba's precise mode
    here: its pieces are among the index's cut_for_search pieces)."""
    words = tuple(dict.fromkeys(tokens(q or "", for_search=False)))[:MAX_QUERY_WORDS]
    return Terms(words=words, name_key=names.name_key((q or "").strip()))


def _tsquery(words) -> str:
    quoted = ["'" + word.replace("\\", "\\\\").replace("'", "''") + "'" for word in words]
    quoted[-1] += ":*"
    return " & ".join(quoted)


def _fts5(words) -> str:
    quoted = ['"' + word.replace('"', '""') + '"' for word in words]
    quoted[-1] += "*"
    return " AND ".join(quoted)


def _like_prefix(key: str) -> str:
    return key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _match(terms: Terms) -> tuple[str, list, str, list]:
    """(WHERE piece, its params, rank CASE, its params) for this database."""
    rank_head = "CASE WHEN d.name_key = %s THEN 0 WHEN d.name_key LIKE %s ESCAPE '\\' THEN 1 "
    head_params = [terms.name_key, _like_prefix(terms.name_key)]
    if connection.vendor == "postgresql":
        tsq = _tsquery(terms.words)
        name_vec = "array_to_tsvector(string_to_array(d.name_words, ' ')"
        rank = (rank_head + f"WHEN {name_vec}) @@ %s::tsquery THEN 2 "
                f"WHEN {name_vec} || string_to_array(d.path_words, ' ')) @@ %s::tsquery THEN 3 ELSE 4 END")
        return "d.words @@ %s::tsquery", [tsq], rank, head_params + [tsq, tsq]
    expr = _fts5(terms.words)
    fts = "d.node_id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH %s)"
    rank = (rank_head + f"WHEN {fts} THEN 2 WHEN {fts} THEN 3 ELSE 4 END")
    return fts, [expr], rank, head_params + [f"{{name_words}} : ({expr})", f"{{name_words path_words}} : ({expr})"]


def _filters(filters: Filters) -> tuple[str, list]:
    clauses, params = [], []
    simple = [("d.space_id = %s", filters.space_id), ("d.file_type = %s", filters.file_type),
              ("d.modified_at >= %s", filters.modified_after), ("d.modified_at < %s", filters.modified_before),
              ("d.size >= %s", filters.size_min), ("d.size <= %s", filters.size_max),
              ("d.owner_id = %s", filters.owner_id)]
    for clause, value in simple:
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return "".join(f" AND {clause}" for clause in clauses), params


def _from_where(actor_id: int, terms: Terms, filters: Filters) -> tuple[str, list, str, list]:
    match, match_params, rank, rank_params = _match(terms)
    extra, extra_params = _filters(filters)
    sql = (f" FROM {DOCS} d JOIN {SPACES} s ON s.id = d.space_id"
           f" WHERE {match} AND d.trashed = %s AND {readable_spaces('d.space_id')}{extra}")
    return sql, match_params + [False, actor_id, actor_id] + extra_params, rank, rank_params


def readable_spaces(column: str) -> str:
    """SQL: ``column`` is a space the user (the next two parameters) is in,
    directly or through a group. On PostgreSQL the spaces are read once into
    an array, so the planner ANDs one full-text bitmap with one space bitmap
    instead of scanning the full-text index once per space."""
    members = member_space_ids_sql()
    if connection.vendor == "postgresql":
        return f"{column} = ANY(ARRAY({members}))"
    return f"{column} IN ({members})"


_COLUMNS = "d.node_id, d.space_id, s.name, d.kind, d.name, d.parent_path, d.size, d.modified_at, d.file_type"


def search(actor, terms: Terms, filters: Filters = Filters(), *, limit: int = 50, offset: int = 0) -> list[Hit]:
    """The best ``limit`` hits from ``offset`` for the actor (one query)."""
    if not terms or not getattr(actor, "is_authenticated", False):
        return []
    body, params, rank, rank_params = _from_where(actor.pk, terms, filters)
    sql = (f"SELECT {_COLUMNS}, {rank} AS rank{body} "
           "ORDER BY rank, d.modified_at DESC, d.node_id DESC LIMIT %s OFFSET %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, rank_params + params + [limit, offset])
        return [Hit(*row) for row in cursor.fetchall()]


def count(actor, terms: Terms, filters: Filters = Filters()) -> int:
    if not terms or not getattr(actor, "is_authenticated", False):
        return 0
    body, params, _rank, _ = _from_where(actor.pk, terms, filters)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*){body}", params)
        return cursor.fetchone()[0]


@dataclass
class Results:
    """A lazy, sliceable result list (what Django's and DRF's paginators take)."""

    actor: object
    terms: Terms
    filters: Filters = field(default_factory=Filters)

    def count(self) -> int:
        return count(self.actor, self.terms, self.filters)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window):
        if not isinstance(window, slice):
            return self[window:window + 1][0]
        start = window.start or 0
        return search(self.actor, self.terms, self.filters, limit=max((window.stop or start) - start, 0),
                      offset=start)
