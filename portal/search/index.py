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
from pathlib import PurePosixPath

import jieba
from django.db import connection
from django.utils import timezone

from portal.files import walk
from portal.files.models import Node
from portal.search.models import FileType, SearchDoc

jieba.setLogLevel(logging.WARNING)
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


def tokens(text: str, *, for_search: bool = True) -> list[str]:
    """The index's tokens of ``text``, in order, repeats kept."""
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


def index_node(node: Node) -> None:
    """Write the node's row from its name and place (its text is kept)."""
    if node.parent_id is None:
        return  # a space's root: nothing to find
    folders, trashed = _place(node)
    fields = {"space_id": node.space_id, "file_type": file_type(node.name, folder=node.is_folder),
              "parent_path": "/" + "/".join(folders), "trashed": trashed, "name_words": words_of(node.name),
              "path_words": words_of(" ".join(folders)), "indexed_at": timezone.now()}
    SearchDoc.objects.update_or_create(node_id=node.pk, defaults=fields)


def set_trashed(node_id: int, trashed: bool) -> None:
    """Mark a node and everything below it as in (or out of) the trash, in
    one statement; restoring re-reads below (a node trashed on its own stays)."""
    ids = [node_id] + walk.descendant_ids(node_id, live_only=not trashed)
    SearchDoc.objects.filter(node_id__in=ids).update(trashed=trashed)


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
    for pk, space_id, kind, name, trail, trashed in _subtree_rows(node_id):
        folders = prefix + trail
        docs.append(SearchDoc(node_id=pk, space_id=space_id, file_type=file_type(name, folder=kind == "folder"),
                              parent_path="/" + "/".join(folders), trashed=base_trashed or trashed,
                              name_words=_cached_words(name), path_words=_cached_words(" ".join(folders))))
    SearchDoc.objects.bulk_create(docs, batch_size=1000, update_conflicts=True, unique_fields=["node"],
                                  update_fields=["space", "file_type", "parent_path", "trashed", "name_words",
                                                 "path_words"])
    return len(docs)


@functools.lru_cache(maxsize=4096)
def _cached_words(text: str) -> str:
    return words_of(text)


def _subtree_rows(node_id: int) -> list[tuple[int, int, str, str, list[str], bool]]:
    """(id, space, kind, name, names of the folders between the start and it,
    trashed on the way) of every node below a node."""
    nodes = Node._meta.db_table
    sql = (f"WITH RECURSIVE down(id, space_id, kind, name, trail, trashed) AS ("
           f"SELECT id, space_id, kind, name, CAST('' AS TEXT), trashed_at IS NOT NULL FROM {nodes} "
           f"WHERE parent_id = %s UNION ALL SELECT n.id, n.space_id, n.kind, n.name, "
           f"down.trail || '/' || down.name, down.trashed OR n.trashed_at IS NOT NULL "
           f"FROM {nodes} n JOIN down ON n.parent_id = down.id) "
           "SELECT id, space_id, kind, name, trail, trashed FROM down")
    with connection.cursor() as cursor:
        cursor.execute(sql, [node_id])
        return [(pk, space_id, kind, name, trail.split("/")[1:], bool(trashed))
                for pk, space_id, kind, name, trail, trashed in cursor]


def set_body(node_id: int, version_id: int, text: str) -> bool:
    """Store the text of ``version_id`` as the node's content, unless a newer
    version's text is already there (tasks may finish out of order)."""
    words = " ".join(distinct(tokens(text))[:MAX_BODY_TOKENS])
    updated = (SearchDoc.objects.filter(node_id=node_id)
               .exclude(content_version_id__gt=version_id)
               .update(body_words=words, content_version_id=version_id, indexed_at=timezone.now()))
    return bool(updated)
