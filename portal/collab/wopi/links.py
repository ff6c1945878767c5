"""Where the portal sends someone who opens a file in the office editor."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from portal.collab.wopi.discovery import discovery_get


def extension_of(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def office_action(node, *, prefer=("edit", "view")) -> tuple[str, str] | None:
    """(action name, urlsrc) the office server offers for this file, the first of ``prefer`` it has;
    None without one."""
    if node is None or getattr(node, "is_folder", True):
        return None
    ext = extension_of(node.name)
    if not ext:
        return None
    found = discovery_get()
    return found.action_url(ext, prefer) if found is not None else None


def office_open_url(node) -> str | None:
    """The portal page that opens ``node`` in the office editor; None when no office server is
    configured (or reachable) or its discovery has no action for the file's extension.
    It says nothing of the viewer's rights: the page checks them."""
    if office_action(node) is None:
        return None
    return reverse("wopi-office", args=[node.pk])


def wopi_src(node_id: int) -> str:
    """The file's WOPI address (WOPISrc) as the office server reaches it."""
    return settings.WOPI_HOST_URL + reverse("wopi-file", args=[node_id])
