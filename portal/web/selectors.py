"""Reads the pages need beyond the apps' own selectors; each starts from an
access-checked object, so it is scoped to what the actor may see."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from portal.files import names
from portal.files import selectors as files
from portal.files.models import FileVersion, Node
from portal.locks.selectors import lock_summaries
from portal.previews.selectors import thumbnail_ready
from portal.search.selectors import starred_by
from portal.shares.models import SpaceSharePolicy


def folder_children(folder: Node, *, viewer, sort: str, descending: bool, name_contains: str = "") -> QuerySet[Node]:
    """A folder's children for a page, each with the viewer's star and whether
    it has a thumbnail (columns of the same query)."""
    children = (files.children_list(folder, sort=sort, descending=descending)
                .annotate(is_starred=starred_by(viewer), has_thumbnail=thumbnail_ready()))
    if name_contains:
        children = children.filter(name__icontains=name_contains)
    return children


# File-type icons: the extension's family (CSS draws each family's icon).
_KINDS = {
    "image": "png jpg jpeg gif webp svg bmp tif tiff heic avif ico",
    "pdf": "pdf",
    "doc": "doc docx odt rtf pages",
    "sheet": "xls xlsx ods csv tsv numbers",
    "slides": "ppt pptx odp key",
    "archive": "zip tar gz tgz bz2 xz 7z rar zst",
    "audio": "mp3 wav flac ogg oga m4a aac opus",
    "video": "mp4 mov mkv webm avi m4v ogv",
    "code": "py js ts json html css xml yml yaml toml sh c h cpp java go rs rb php sql",
    "text": "txt md markdown log ini cfg conf",
}
_KIND_OF = {ext: kind for kind, exts in _KINDS.items() for ext in exts.split()}


def file_kind(name: str) -> str:
    """The icon family of a file name ("image", "pdf", ... or "file")."""
    stem, dot, ext = name.rpartition(".")
    return _KIND_OF.get(ext.lower(), "file") if dot and stem else "file"


@dataclass(frozen=True)
class Entry:
    """One row of a folder page: the node, its path, the lock shown on it, its icon and thumbnail."""

    node: Node
    path: str
    lock: dict | None
    kind: str = "folder"
    thumbnail: str = ""
    starred: bool = False


def folder_entries(folder: files.Located, nodes, *, viewer, thumbnails: dict | None = None) -> list[Entry]:
    """The rows of a page of ``folder``'s children (from folder_children), their locks looked up once for the page."""
    nodes = list(nodes)
    locks = lock_summaries(nodes, viewer=viewer, folder=folder.node)
    thumbnails = thumbnails or {}
    return [Entry(node=node, path=names.join([*folder.path_names, node.name]), lock=locks[node.pk],
                  kind="folder" if node.is_folder else file_kind(node.name), thumbnail=thumbnails.get(node.pk, ""),
                  starred=getattr(node, "is_starred", False))
            for node in nodes]


def versions_of(node: Node) -> QuerySet[FileVersion]:
    """A file's versions, newest first (``node`` comes from locate_node)."""
    return node.versions.select_related("blob", "created_by").prefetch_related("coauthors").order_by("-number")


def folders_of(space) -> list[str]:
    """Every live folder's path in a space (for the move/copy destination list), at most 500."""
    rows = list(Node.objects.filter(space=space, kind="folder", trashed_at__isnull=True)
                .values_list("id", "parent_id", "name")[:2000])
    by_id = {row[0]: row for row in rows}
    paths = []
    for node_id, parent_id, _ in rows:
        names, current = [], by_id.get(node_id)
        while current is not None and current[1] is not None:
            names.append(current[2])
            current = by_id.get(current[1])
        if current is None:  # under a folder in the trash
            continue
        paths.append("/" + "/".join(reversed(names)))
    return sorted(paths)[:500]


def trash_entries(nodes) -> list[tuple[Node, str]]:
    """Each trashed node with where it was (its name alone when its folder is gone too), in one query."""
    nodes = list(nodes)
    where = files.original_paths(nodes)
    return [(node, names.join(where[node.pk])) for node in nodes]


def own_link_policy(space) -> SpaceSharePolicy | None:
    """The space's own tightening of the link policy, if it has one (for the settings form)."""
    return SpaceSharePolicy.objects.filter(space_id=space.pk).first()
