"""Writing the index: tokens of names, paths and text, one row per node.

Names and text are segmented by jieba (cut_for_search: "季度财务报告" gives
季度 / 财务 / 报告 / 财务报告), lowercased, cut into letter-and-digit runs
(so "Report_v2.pdf" gives report / v2 / pdf), and stored one space apart.
Queries segment the user's words the same way (query.py). A node's row is
written in the transaction that changed the node (receivers.py), so search
never shows a name that is not there.
"""

from __future__ import annotations

import functools
import logging
import mimetypes
import re
import unicodedata
from pathlib import PurePosixPath

from django.db import connection
from django.utils import timezone

from portal.files import walk
from portal.files.models import FileVersion, Node, NodeKind
from portal.search.models import FileType, SearchDoc

_RUN = re.compile(r"[^\W_]+")
MAX_TOKEN = 60          # longer runs (hashes, base64) are noise to a searcher
MAX_BODY_TOKENS = 200_000

_EXTENSIONS = {
    FileType.IMAGE: "jpg jpeg png gif webp bmp tif tiff svg heic heif ico raw cr2 nef psd",
    FileType.PDF: "pdf",
    FileType.DOCUMENT: "doc docx odt rtf xls xlsx ods csv ppt pptx odp key pages numbers wps et dps",
    FileType.TEXT: "txt md markdown rst log json yaml yml toml ini cfg conf xml html htm css js ts py java c h "
                   "cpp hpp cs go rs rb php sh bat ps1 sql kt swift tex",
    FileType.AUDIO: "mp3 wav flac aac ogg oga m4a wma opus",
    FileType.VIDEO: "mp4 mkv mov avi webm wmv m4v mpg mpeg flv",
    FileType.ARCHIVE: "zip tar gz tgz bz2 xz 7z rar zst",
}
_BY_EXTENSION = {ext: kind for kind, exts in _EXTENSIONS.items() for ext in exts.split()}
_BY_MIME_PREFIX = {"image/": FileType.IMAGE, "audio/": FileType.AUDIO, "video/": FileType.VIDEO,
                   "text/": FileType.TEXT}


@functools.cache
def _segmenter():
    """jieba, imported on first use: a quarter of a second that processes which never index or
    search (a command, most workers) do not pay at their start."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def tokens(text: str, *, for_search: bool = True) -> list[str]:
    """The index's tokens of ``text``, in order, repeats kept. NFKC first: a
    decomposed "é" is "é" and full-width "ＲＥＰＯＲＴ" is "REPORT", in the
    index and in queries alike."""
    text = unicodedata.normalize("NFKC", text)
    jieba = _segmenter()
    pieces = jieba.cut_for_search(text) if for_search else jieba.cut(text)
    out = []
    for piece in pieces:
        out.extend(run for run in _RUN.findall(piece.casefold()) if len(run) <= MAX_TOKEN)
    return out


def distinct(words) -> list[str]:
    return list(dict.fromkeys(words))


def words_of(text: str) -> str:
    """The stored form: distinct tokens, one space apart."""
    return " ".join(distinct(tokens(text)))


def file_type(name: str, *, folder: bool = False) -> str:
    """The type filter's category, by extension, else by the guessed MIME type."""
    if folder:
        return FileType.FOLDER
    ext = PurePosixPath(name.casefold()).suffix.lstrip(".")
    if ext in _BY_EXTENSION:
        return _BY_EXTENSION[ext]
    mime = mimetypes.guess_type(name)[0] or ""
    for prefix, kind in _BY_MIME_PREFIX.items():
        if mime.startswith(prefix):
            return kind
    return FileType.OTHER


def _place(node: Node) -> tuple[list[str], bool]:
    """The names of the folders above the node (root excluded) and whether
    the node or any of them is in the trash (one query)."""
    steps = walk.walk_up(node.pk)
    return [step.name for step in steps[1:-1]], any(step.trashed for step in steps)


def _node_fields(node: Node, owner_id) -> dict:
    return {"space_id": node.space_id, "name": node.name, "name_key": node.name_key, "kind": node.kind,
            "size": node.size, "modified_at": node.modified_at, "owner_id": owner_id,
            "file_type": file_type(node.name, folder=node.kind == NodeKind.FOLDER),
            "name_words": _cached_words(node.name), "indexed_at": timezone.now()}


def index_node(node: Node) -> None:
    """Write the node's row from the node and its place (its text is kept)."""
    if node.parent_id is None:
        return  # a space's root: nothing to find
    folders, trashed = _place(node)
    owner_id = (FileVersion.objects.filter(pk=node.current_version_id).values_list("created_by_id", flat=True)
                .first() if node.current_version_id else None)
    fields = {**_node_fields(node, owner_id), "parent_path": "/" + "/".join(folders), "trashed": trashed,
              "path_words": _cached_words(" ".join(folders))}
    SearchDoc.objects.update_or_create(node_id=node.pk, defaults=fields)
    space_wins(node.pk, below=False)
    if not trashed:
        trash_wins(node.pk, below=False)


def set_trashed(node_id: int) -> None:
    """Mark a node and everything below it as in the trash, in one statement
    (restoring rewrites the rows below: index_subtree)."""
    sql = f"UPDATE {SearchDoc._meta.db_table} SET trashed = %s WHERE node_id IN ({walk.SUBTREE_IDS_SQL})"
    with connection.cursor() as cursor:
        cursor.execute(sql, [True, node_id])


def set_space(node_id: int, space_id: int) -> None:
    """A node and everything below it moved to another space: their rows
    follow at once, in one statement, so the old space's members stop
    finding them with the move (names and paths follow with index_subtree).
    The subtree is walked once, by the index on ``parent_id``, and its rows
    found by the primary key: proportional to the subtree, never to the index."""
    sql = f"UPDATE {SearchDoc._meta.db_table} SET space_id = %s WHERE node_id IN ({walk.SUBTREE_IDS_SQL})"
    with connection.cursor() as cursor:
        cursor.execute(sql, [space_id, node_id])


def index_subtree(node_id: int) -> int:
    """Write the rows of a node and everything below it, made where missing
    (after a folder was renamed, moved or restored, or to fill the index of
    an existing tree): names, paths and trash flags from one walk; the text
    already indexed is kept."""
    node = Node.objects.filter(pk=node_id).first()
    if node is None:
        return 0
    index_node(node)
    base_folders, base_trashed = _place(node)
    prefix = base_folders + ([node.name] if node.parent_id is not None else [])
    docs = []
    for row, owner_id, trail, trashed in _subtree_rows(node_id):
        folders = prefix + trail
        docs.append(SearchDoc(node_id=row.pk, **_node_fields(row, owner_id), parent_path="/" + "/".join(folders),
                              trashed=base_trashed or trashed, path_words=_cached_words(" ".join(folders))))
    SearchDoc.objects.bulk_create(docs, batch_size=1000, update_conflicts=True, unique_fields=["node"],
                                  update_fields=[*SUBTREE_FIELDS])
    space_wins(node_id)
    trash_wins(node_id)
    return len(docs)


def space_wins(node_id: int, *, below: bool = True) -> None:
    """After rows were written from nodes read earlier: a move to another
    space that committed in between wins (the rows take the nodes' space as
    it is now), so the old space's members do not find them again."""
    docs, nodes = SearchDoc._meta.db_table, Node._meta.db_table
    which = f"node_id IN ({walk.SUBTREE_IDS_SQL})" if below else "node_id = %s"
    now = f"(SELECT n.space_id FROM {nodes} n WHERE n.id = {docs}.node_id)"
    sql = f"UPDATE {docs} SET space_id = {now} WHERE {which} AND space_id <> {now}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [node_id])


def trash_wins(node_id: int, *, below: bool = True) -> None:
    """After rows were written from a walk read earlier: a trash that
    committed in between (its own update of these rows came before the
    write) wins. The node or a folder above it in the trash now marks the
    whole subtree; otherwise, with ``below``, whatever below it is in the
    trash now, or under a folder that is."""
    if any(step.trashed for step in walk.walk_up(node_id)):
        set_trashed(node_id)
        return
    if not below:
        return
    nodes = Node._meta.db_table
    sql = (f"WITH RECURSIVE down(id, gone) AS (SELECT id, trashed_at IS NOT NULL FROM {nodes} WHERE parent_id = %s "
           f"UNION ALL SELECT n.id, down.gone OR n.trashed_at IS NOT NULL FROM {nodes} n "
           f"JOIN down ON n.parent_id = down.id) "
           f"UPDATE {SearchDoc._meta.db_table} SET trashed = %s WHERE trashed = %s "
           f"AND node_id IN (SELECT id FROM down WHERE gone)")
    with connection.cursor() as cursor:
        cursor.execute(sql, [node_id, True, False])


SUBTREE_FIELDS = ("space", "name", "name_key", "kind", "size", "modified_at", "owner", "file_type", "name_words",
                  "indexed_at", "parent_path", "trashed", "path_words")


@functools.lru_cache(maxsize=4096)
def _cached_words(text: str) -> str:
    return words_of(text)


def _subtree_rows(node_id: int) -> list[tuple[Node, int | None, list[str], bool]]:
    """(node, uploader of its current version, names of the folders between
    the start and it, trashed on the way) of every node below a node, in one query."""
    nodes, versions = Node._meta.db_table, FileVersion._meta.db_table
    sql = (f"WITH RECURSIVE down(id, name, trail, trashed) AS ("
           f"SELECT id, name, CAST('' AS TEXT), trashed_at IS NOT NULL FROM {nodes} WHERE parent_id = %s "
           f"UNION ALL SELECT n.id, n.name, down.trail || '/' || down.name, down.trashed OR n.trashed_at IS NOT NULL "
           f"FROM {nodes} n JOIN down ON n.parent_id = down.id) "
           f"SELECT n.id, n.space_id, n.parent_id, n.kind, n.name, n.name_key, n.size, n.current_version_id, "
           f"n.modified_at, v.created_by_id, down.trail, down.trashed FROM down "
           f"JOIN {nodes} n ON n.id = down.id LEFT JOIN {versions} v ON v.id = n.current_version_id")
    # In the model's field order: from_db fills the fields it is given in that order.
    fields = ["id", "space_id", "parent_id", "kind", "name", "name_key", "size", "current_version_id", "modified_at"]
    with connection.cursor() as cursor:
        cursor.execute(sql, [node_id])
        rows = cursor.fetchall()
    return [(Node.from_db(connection.alias, fields, row[:9]), row[9], row[10].split("/")[1:], bool(row[11]))
            for row in rows]


def set_body(node_id: int, version_id: int, text: str) -> bool:
    """Store the text of ``version_id`` as the node's content, unless a newer
    version's text is already there (tasks may finish out of order)."""
    words = " ".join(distinct(tokens(text))[:MAX_BODY_TOKENS])
    updated = (SearchDoc.objects.filter(node_id=node_id)
               .exclude(content_version_id__gt=version_id)
               .update(body_words=words, content_version_id=version_id, indexed_at=timezone.now()))
    return bool(updated)


def drop_text(version_ids) -> int:
    """Forget the text of these versions (their bytes were quarantined)."""
    return (SearchDoc.objects.filter(content_version_id__in=list(version_ids))
            .update(body_words="", content_version_id=None, indexed_at=timezone.now()))
