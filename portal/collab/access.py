"""Who may join a co-editing session, and as what: resolved from a ticket on
every connection and again every ``COEDIT_RECHECK_SECONDS`` while it lasts.

A member reads and follows with file.read and edits with file.write in the
file's space (or through an internal share); a share link on the file lets
its visitors follow (preview, download) or edit (edit permission) for as
long as the link works and its owner still may. An exclusive lock someone
else holds makes everyone else a follower. Missing, forbidden and trashed
files all read "not found", as everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.utils.translation import gettext

from portal.core.access import Cap, caps_of
from portal.core.errors import InvalidInput, NotFound
from portal.collab import texts
from portal.collab.tickets import Ticket, binding_of
from portal.files.models import Node, NodeKind
from portal.files.selectors import Located, locate_node, path_names_of
from portal.locks.models import LockKind, LockScope
from portal.locks.selectors import live_locks_for
from portal.scanning.selectors import ensure_not_quarantined
from portal.shares.models import LinkState, Permission, ShareLink
from portal.shares.selectors import link_resolved
from portal.shares.visits import _creator_may
from portal.spaces.selectors import can

PALETTE = ("#30bced", "#6eeb83", "#ffbc42", "#ee6352", "#9ac2c9", "#8acb88", "#d5a6bd", "#e08e45", "#4f6d7a",
           "#b388eb")


@dataclass(frozen=True)
class Participation:
    """A connection's right to a session, as of its last check."""
    node: Node
    space_id: int
    path: str
    user: object | None            # the member, or None for a link visitor
    link: ShareLink | None
    can_edit: bool
    readonly_reason: str
    name: str
    color: str

    @property
    def author(self):
        """Who a stored update and a written version count as: the member, or the link's owner (as for
        uploads through a link)."""
        return self.user if self.user is not None else self.link.created_by


def color_of(key: int) -> str:
    return PALETTE[key % len(PALETTE)]


def _editable_file(node: Node) -> None:
    if node.kind != NodeKind.FILE:
        raise InvalidInput(gettext("Folders cannot be edited; open a file."), code="not_a_file")
    if not texts.coeditable_name(node.name):
        raise InvalidInput(gettext("%(name)s is not a text file; the editor opens text and Markdown files.")
                           % {"name": node.name}, code="not_coeditable")
    if texts.too_large(node.size):
        raise InvalidInput(gettext("%(name)s is too large to edit in the browser; download it instead.")
                           % {"name": node.name}, code="too_large")
    if node.current_version is not None:
        ensure_not_quarantined(node.current_version)


def _lock_reason(node: Node, user) -> str:
    """Why an exclusive lock of someone else's keeps this person from editing ('' when none does)."""
    for lock in live_locks_for(node):
        if lock.scope == LockScope.EXCLUSIVE and lock.kind != LockKind.COEDIT and (
                user is None or lock.owner_id != user.pk):
            owner = lock.owner.get_full_name() or lock.owner.get_username()
            return gettext("%(owner)s has locked this file; you can follow along, and edit once they unlock it.") % {
                "owner": owner}
    return ""


def member_participation(located: Located, user) -> Participation:
    """What a member who reached ``located`` may do in its co-editing."""
    node = located.node
    _editable_file(node)
    writer = user.is_active and Cap.FILE_WRITE in caps_of(located.role, admin=located.admin) and \
        not located.space.is_archived
    reason = "" if writer else gettext("You can read this file but not change it; the space's managers can make "
                                       "you an editor.")
    if writer and located.scoped:  # versions are written by members of the space (as uploads are)
        writer, reason = False, gettext("This file was shared with you personally: you can follow the editing here, "
                                        "and edit it once you are a member of its space.")
    if writer:
        reason = _lock_reason(node, user)
    return Participation(node=node, space_id=located.space.pk, path=located.path, user=user, link=None,
                         can_edit=not reason, readonly_reason=reason,
                         name=user.get_full_name() or user.get_username(), color=color_of(user.pk))


def link_participation(link_id: int, node_id: int) -> Participation:
    """What a visitor of a working link on this very file may do (NotFound for anything else)."""
    try:
        opened = link_resolved(link_id)
    except NotFound:
        raise NotFound(gettext("No such file or folder.")) from None
    link = opened.link
    if opened.node.pk != node_id or opened.in_trash or link.state_at() != LinkState.ACTIVE or \
            link.space_id != opened.node.space_id or not _creator_may(opened):
        raise NotFound(gettext("No such file or folder."))
    node = opened.node
    _editable_file(node)
    writer = link.permission == Permission.EDIT and not opened.space.is_archived
    reason = "" if writer else gettext("This link lets you read the file, not change it.")
    if writer:
        reason = _lock_reason(node, None)
    return Participation(node=node, space_id=opened.space.pk, path="/".join(opened.path_names), user=None,
                         link=link, can_edit=not reason, readonly_reason=reason, name=gettext("Guest"),
                         color=color_of(link.pk + 7))


def participation_for(ticket: Ticket) -> Participation:
    """The ticket's holder's right to its file now; NotFound when they have none (or the ticket's binding
    no longer holds: a new password, a link's new password or recipients)."""
    if ticket.user_id is not None:
        user = get_user_model().objects.filter(pk=ticket.user_id, is_active=True).first()
        if user is None or binding_of(user=user) != ticket.binding:
            raise NotFound(gettext("No such file or folder."))
        return member_participation(locate_node(user, ticket.node_id, Cap.FILE_READ), user)
    participation = link_participation(ticket.link_id, ticket.node_id)
    if binding_of(link=participation.link) != ticket.binding:
        raise NotFound(gettext("No such file or folder."))
    return participation



def file_gone_for_reader(ticket: Ticket) -> bool:
    """Whether the ticket's holder lost the file because it went to the trash while they may still read
    its space (the editor then says so), rather than because their own right went."""
    node = Node.objects.select_related("space").filter(pk=ticket.node_id).first()
    if node is None:
        return False
    try:
        path_names_of(node)
        return False  # still in the live tree: it is the holder's right that went
    except NotFound:
        pass
    if ticket.user_id is None:
        link = ShareLink.objects.filter(pk=ticket.link_id, node_id=node.pk).first()
        return link is not None and binding_of(link=link) == ticket.binding
    user = get_user_model().objects.filter(pk=ticket.user_id, is_active=True).first()
    return user is not None and binding_of(user=user) == ticket.binding and can(user, Cap.FILE_READ, node.space)
