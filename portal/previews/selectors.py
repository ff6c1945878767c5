"""Reads of derived files (thumbnails, renditions). Callers have checked
that the actor may read the nodes; quarantined versions never have a ready
derived file (none is made from held bytes), and these reads check again."""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from django.urls import reverse

from portal.previews.models import DerivedFile, DerivedKind, DerivedState
from portal.storage.derived import derived_storage


def thumbnail_ready() -> Exists:
    """A column for a query of nodes: whether the current version has a ready
    thumbnail (``.annotate(has_thumbnail=thumbnail_ready())``)."""
    return Exists(DerivedFile.objects.filter(version_id=OuterRef("current_version_id"), kind=DerivedKind.THUMBNAIL,
                                             state=DerivedState.READY))


def thumbnail_urls(nodes) -> dict[int, str]:
    """Thumbnail URL per file node id, for the nodes whose current version has
    one: one query, or none for nodes annotated with ``thumbnail_ready()``."""
    by_version = {node.current_version_id: node for node in nodes
                  if not node.is_folder and node.current_version_id is not None}
    if not by_version:
        return {}
    if all(hasattr(node, "has_thumbnail") for node in by_version.values()):
        ready = [version_id for version_id, node in by_version.items() if node.has_thumbnail]
    else:
        ready = (DerivedFile.objects.filter(version_id__in=list(by_version), kind=DerivedKind.THUMBNAIL,
                                            state=DerivedState.READY)
                 .values_list("version_id", flat=True))
    urls = {}
    for version_id in ready:
        node = by_version[version_id]
        # The version in the query string makes the URL change with the file: browsers may cache it.
        urls[node.pk] = reverse("web:thumbnail", args=[node.space_id, node.pk]) + f"?v={version_id}"
    return urls


def derived_get(version, kind: str) -> DerivedFile | None:
    if version is None:
        return None
    return DerivedFile.objects.filter(version=version, kind=kind).first()


def ready_derived(version, kind: str) -> DerivedFile | None:
    """The finished derived file of ``version``, or None (none, not yet, or quarantined)."""
    from portal.scanning.selectors import is_quarantined

    derived = derived_get(version, kind)
    if derived is None or derived.state != DerivedState.READY or is_quarantined(version):
        return None
    return derived


def rendition_pdf(version):
    """The PDF rendition of an Office version as a readable file, or None when there is none (yet)."""
    derived = ready_derived(version, DerivedKind.PDF)
    if derived is None:
        return None
    return derived_storage().open(derived.name, "rb")
