"""The editor page: a text or Markdown file open for co-editing.

The page opens (or finds) the file's session and hands the browser a ticket
for it; the websocket server checks everything again when the editor
connects. Readers who may not write follow along read-only.
"""

from __future__ import annotations

from django.conf import settings
from django.http.request import split_domain_port
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from portal.collab import texts
from portal.collab.access import Participation, link_participation, member_participation
from portal.collab.services import session_open
from portal.collab.tickets import ticket_issue
from portal.web.common import portal_page
from portal.core.errors import NotFound, PortalError
from portal.shares import views as share_pages
from portal.shares.models import Permission
from portal.web.middleware import content_security_policy
from portal.web.viewer import _file, folder_url


def ws_url(request) -> str:
    """Where the editor connects: PORTAL_COEDIT_URL (a URL, or a path on this host behind a proxy), or this
    host on the co-editing server's port."""
    configured = settings.COEDIT_URL.rstrip("/")
    if configured.startswith(("ws://", "wss://")):
        return configured
    scheme = "wss" if request.is_secure() else "ws"
    if configured.startswith("/"):
        return f"{scheme}://{request.get_host()}{configured}"
    domain, _ = split_domain_port(request.get_host())
    domain = f"[{domain}]" if ":" in domain else domain
    return f"{scheme}://{domain}:{settings.COEDIT_BIND.rpartition(':')[2]}/coedit/ws"


def editor_config(request, participation: Participation, session_id: int, *, user=None, link=None) -> dict:
    return {
        "ws_url": ws_url(request),
        "room": str(participation.node.pk),
        "ticket": ticket_issue(node_id=participation.node.pk, session_id=session_id, user=user, link=link),
        "can_edit": participation.can_edit,
        "readonly_reason": participation.readonly_reason,
        "user": {"name": participation.name, "color": participation.color,
                 "color_light": participation.color + "33"},
    }


@portal_page
@require_GET
def edit_file(request, space_id, node_id):
    located = _file(request, space_id, node_id)
    participation = member_participation(located, request.user)
    session = session_open(participation=participation)
    node = located.node
    config = editor_config(request, participation, session.pk, user=request.user)
    response = render(request, "collab/editor.html", {
        "space": located.space, "node": node, "located": located, "file_name": node.name,
        "back_url": folder_url(located), "download_url": f"/api/v1/files/{node.pk}/content",
        "view_url": reverse("web:view", args=[located.space.pk, node.pk]),
        "markdown": texts.is_markdown(node.name),
        "coedit": config,
    })
    response["Content-Security-Policy"] = content_security_policy(connect_to=(config["ws_url"],))
    return response


@require_GET
def edit_via_link(request, token):
    """A share link with edit permission on a text file: its visitors (past the link's password or code)
    edit together with the members. The answer is hardened like the link's other pages."""
    try:
        response = _link_editor(request, token)
    except PortalError as exc:
        return share_pages._harden(share_pages._error_page(request, exc))
    csp = response["Content-Security-Policy"]
    share_pages._harden(response)
    response["Content-Security-Policy"] = csp  # the editor's websocket (and CodeMirror's styles) allowed
    return response


def _link_editor(request, token):
    opened, _visitor = share_pages._admitted(request, token)
    if opened.link.permission != Permission.EDIT or opened.node.is_folder:
        raise NotFound(gettext("This link does not open the editor; open the link's page."))
    participation = link_participation(opened.link.pk, opened.node.pk)
    session = session_open(participation=participation)
    config = editor_config(request, participation, session.pk, link=opened.link)
    page = reverse("share-page", args=[token])
    response = render(request, "collab/editor.html", {
        "node": opened.node, "located": None, "file_name": opened.node.name, "back_url": page,
        "download_url": reverse("share-download", args=[token]), "view_url": page,
        "markdown": texts.is_markdown(opened.node.name), "coedit": config,
    })
    response["Content-Security-Policy"] = content_security_policy(connect_to=(config["ws_url"],))
    return response
