"""Reads of share links, scoped to who may see them."""

from __future__ import annotations

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from portal.audit.models import AuditEvent
from portal.core.access import ROLE_CAPS, Cap, is_admin
from portal.core.errors import InvalidInput, NotFound
from portal.files import names
from portal.files.models import Node
from portal.files.selectors import attach_path, child_named
from portal.shares import tokens
from portal.shares.models import ShareLink
from portal.spaces.models import Membership

_MANAGING_ROLES = [role for role, caps in ROLE_CAPS.items() if Cap.LINK_MANAGE_OTHERS in caps]


def links_visible_to(actor, *, space_id=None, mine: bool = False) -> QuerySet[ShareLink]:
    """The actor's own links, plus every link in spaces they manage
    (administrators: every link), newest first."""
    links = ShareLink.objects.select_related("node", "space", "created_by")
    admin = is_admin(actor)
    # A member removed from a space keeps nothing of it through their links:
    # their own links count only in spaces they still belong to.
    own = Q(created_by=actor) if admin else Q(
        created_by=actor, space_id__in=Membership.objects.filter(user=actor).values("space_id"))
    if mine:
        links = links.filter(own)
    elif not admin:
        managed = Membership.objects.filter(user=actor, role__in=_MANAGING_ROLES).values("space_id")
        links = links.filter(own | Q(space_id__in=managed))
    if space_id is not None:
        links = links.filter(space_id=space_id)
    return links.order_by("-created_at", "-id")


def access_link(actor, link_id, *, lock: bool = False) -> ShareLink:
    """A link the actor owns or manages; the same NotFound otherwise."""
    try:
        link_id = int(link_id)
    except (TypeError, ValueError):
        raise NotFound("No such link.") from None
    links = links_visible_to(actor)
    if lock:
        links = links.select_for_update(of=("self",))
    link = links.filter(pk=link_id).first()
    if link is None:
        raise NotFound("No such link.")
    _with_path(link.node)
    return link


def _with_path(node: Node) -> None:
    try:
        attach_path(node)
    except NotFound:
        node.path_names = [node.name]  # deleted since: the link page says so


_NODES = Node._meta.db_table
_LINKS = ShareLink._meta.db_table
# Whether the shared node or any folder above it is in the trash (trashing a
# folder marks only that folder), as a column of the link's own query.
_IN_TRASH = (f"EXISTS (WITH RECURSIVE up(id, parent_id, trashed_at) AS ("
             f"SELECT n.id, n.parent_id, n.trashed_at FROM {_NODES} n WHERE n.id = {_LINKS}.node_id "
             f"UNION ALL SELECT p.id, p.parent_id, p.trashed_at FROM {_NODES} p JOIN up ON p.id = up.parent_id) "
             "SELECT 1 FROM up WHERE up.trashed_at IS NOT NULL)")


def link_from_token(token: str) -> ShareLink:
    """The link a visitor's token names. Unknown, malformed and wrong tokens
    get the same NotFound; the secret is compared in constant time."""
    parsed = tokens.parse(token)
    link = None
    if parsed is not None:
        selector, secret = parsed
        # One query for all a visit needs: the node with its current version
        # and blob (downloads), and the creator's role in the space (the
        # check that the link gives no more than its owner has), which
        # role_of() takes from space.actor_role instead of asking again.
        creator_role = Membership.objects.filter(space=OuterRef("space_id"),
                                                 user=OuterRef("created_by_id")).values("role")[:1]
        link = (ShareLink.objects.select_related("node__current_version__blob", "space", "created_by")
                .annotate(creator_role=Subquery(creator_role), in_trash=RawSQL(_IN_TRASH, []))
                .filter(selector=selector).first())
        if link is not None and not tokens.matches(secret, link.verifier):
            link = None
        if link is not None:
            link.space.actor_role, link.space.actor_role_for = link.creator_role, link.created_by_id
    if link is None:
        tokens.matches("0" * 32, "0" * 64)  # the same work whether or not the selector exists
        raise NotFound("There is no share link at this address. Check that you copied all of it.")
    return link


def node_in_link(link: ShareLink, path: str) -> Node:
    """A live node at ``path`` below a shared folder (``""``: the folder itself)."""
    node, seen = link.node, []
    try:
        path_names = names.split_path(path or "/", existing=True)
    except InvalidInput:  # "..", "." and the like name nothing inside the link
        raise NotFound("Nothing at this address in this shared folder.") from None
    for name in path_names:
        if not node.is_folder:
            raise NotFound(f"{names.join(seen)} is a file, not a folder.")
        child = child_named(node, name)
        if child is None:
            raise NotFound(f"Nothing at {names.join(seen + [name])} in this shared folder.")
        node = child
        seen.append(child.name)
    node.link_path = seen
    return node


def accesses_list(link: ShareLink) -> QuerySet[AuditEvent]:
    """Everything that happened through (and to) a link, newest first."""
    return AuditEvent.objects.filter(target_type="sharelink", target_id=str(link.pk)).order_by("-id")
