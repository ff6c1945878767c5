"""The "Open in office" page: the office editor in a frame, given its access token by a form post."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from django.shortcuts import render
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_GET

from portal.collab.wopi.discovery import action_src
from portal.collab.wopi.links import office_action, wopi_src
from portal.collab.wopi.tokens import wopi_token_issue
from portal.core.access import Cap
from portal.core.errors import InvalidInput, NotFound
from portal.files.models import NodeKind
from portal.files.selectors import locate_node
from portal.web.common import portal_page
from portal.web.middleware import content_security_policy
from portal.web.viewer import folder_url

# What the office editors call the portal's two languages (BCP 47, as discovery's UI_LLCC wants).
_LANGUAGES = {"en": "en-US", "zh-hans": "zh-CN"}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _policy(editor_url: str, nonce: str) -> str:
    """The portal's policy, with the office server allowed as the frame and the form's target,
    and this page's one inline script (the form post) by its nonce."""
    origin = _origin(editor_url)
    policy = content_security_policy().replace("script-src 'self'", f"script-src 'self' 'nonce-{nonce}'")
    policy = policy.replace("form-action 'self'", f"form-action 'self' {origin}")
    return f"{policy}; frame-src {origin}"


@portal_page
@require_GET
def office_open(request, node_id):
    """Anyone who may read the file opens it (read-only unless their role lets them write)."""
    located = locate_node(request.user, node_id, Cap.FILE_READ)
    if located.node.kind != NodeKind.FILE:
        raise InvalidInput(gettext("%(path)s is a folder; open it in the file list.") % {"path": located.path},
                           code="not_a_file")
    writer = located.can(Cap.FILE_WRITE) and not located.scoped
    action = office_action(located.node, prefer=("edit", "view") if writer else ("view", "edit"))
    if action is None:
        raise NotFound(gettext("No office editor is available for %(name)s.") % {"name": located.node.name},
                       code="no_office_editor")
    language = _LANGUAGES.get(get_language() or "en", "en-US")
    editor_url = action_src(action[1], wopi_src=wopi_src(located.node.pk), language=language)
    issued = wopi_token_issue(actor=request.user, located=located)
    nonce = secrets.token_urlsafe(16)
    response = render(request, "collab/office.html", {
        "node": located.node, "located": located, "editor_url": editor_url, "access_token": issued.token,
        "access_token_ttl": issued.ttl_ms, "folder_url": folder_url(located), "nonce": nonce,
        "action": action[0]})
    response["Content-Security-Policy"] = _policy(editor_url, nonce)
    response["Cache-Control"] = "private, no-store"
    return response
