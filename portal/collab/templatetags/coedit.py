"""The file list's, drawer's and viewer's ways into the editors: "Edit together"
(the portal's co-editor, for text files the caller may change) and "Open in
office" (the WOPI office server, when one offers the file's type).

``{% coedit_links node can_write as links %}`` gives ``links.edit`` and
``links.office`` (empty strings when not offered). No database query: the
office server's discovery is read once per page (from the cache), not once
per row."""

from __future__ import annotations

from django import template
from django.urls import reverse

from portal.collab.texts import coeditable_name, extension_of
from portal.collab.wopi.discovery import discovery_get
from portal.collab.wopi.links import office_open_url
from portal.core.access import Cap

register = template.Library()

_NO_DISCOVERY = object()
_MEMO = "coedit_office_discovery"


def _discovery(context):
    """The office server's discovery, read once per rendering."""
    memo = context.render_context.get(_MEMO, _NO_DISCOVERY)
    if memo is _NO_DISCOVERY:
        memo = context.render_context[_MEMO] = discovery_get()
    return memo


def _office_url(context, node) -> str:
    found = _discovery(context)
    if found is None or found.action_url(extension_of(node.name)) is None:
        return ""
    return office_open_url(node) or ""


@register.simple_tag(takes_context=True)
def coedit_links(context, node, can_write) -> dict[str, str]:
    """``node``'s editor addresses for a caller who may (``can_write``) or may not change it."""
    if node is None or node.is_folder:
        return {"edit": "", "office": ""}
    edit = reverse("collab:edit", args=[node.space_id, node.pk]) if can_write and coeditable_name(node.name) else ""
    return {"edit": edit, "office": _office_url(context, node)}


@register.simple_tag(takes_context=True)
def coedit_links_located(context, located) -> dict[str, str]:
    """``coedit_links`` for a file as a request located it (its role decides whether it may be changed)."""
    return coedit_links(context, located.node, located.can(Cap.FILE_WRITE))
