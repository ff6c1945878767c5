"""Celery tasks of the search index: they take ids and are safe to run twice.

``index_version.delay(version_id)`` is also what the previews app calls
when an Office rendition is ready (its text comes through the rendition)."""

from __future__ import annotations

from celery import shared_task

from portal.core.errors import StorageUnavailable
from portal.files.models import FileVersion, Node
from portal.scanning.models import ScanState, ScanVerdict
from portal.scanning.selectors import is_quarantined
from portal.search import extract, index

READABLE = (ScanState.CLEAN, ScanState.RELEASED)


def scanned_clean(version: FileVersion) -> bool:
    """Its own verdict, if it has one (a copy or a restore has none), is clean
    (or released), and its bytes are not quarantined: a flag *by content* on
    another version holding the same bytes blocks a clean verdict too."""
    state = ScanVerdict.objects.filter(version=version).values_list("state", flat=True).first()
    if state is not None and state not in READABLE:
        return False
    return not is_quarantined(version)


@shared_task(name="search.index_version", max_retries=3, autoretry_for=(StorageUnavailable,), retry_backoff=True)
def index_version(version_id: int) -> str:
    """Extract and index the text of a file's current version, once it is scanned clean."""
    version = FileVersion.objects.select_related("node", "blob").filter(pk=version_id).first()
    if version is None:
        return "gone"
    if version.node.current_version_id != version.pk:
        return "stale"
    if not scanned_clean(version):
        return "not_clean"
    text = extract.text_of(version)
    if text is None:
        return "no_text"
    return "indexed" if index.set_body(version.node_id, version.pk, text) else "newer"


@shared_task(name="search.index_node")
def index_node(node_id: int) -> int:
    """Write a node's row as the node is now (a folder: every row below it
    too, for its new name, place or trash state); the rows written."""
    node = Node.objects.filter(pk=node_id).first()
    if node is None or node.parent_id is None:
        return 0
    if node.is_folder:
        return index.index_subtree(node_id)
    index.index_node(node)
    return 1
