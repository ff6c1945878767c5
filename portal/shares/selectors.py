"""Reads of share links, scoped to who may see them, and the one way a
visit resolves a link (``link_from_token``) and the node it asks for
(``link_target``): one query each, whatever the depth."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.models import AuditEvent
from portal.core.access import ROLE_CAPS, Cap, is_admin
from portal.core.errors import InvalidInput, NotFound
from portal.files import names, walk
from portal.files.models import Node
from portal.files.selectors import path_names_of
from portal.governance.models import ContentLabel, LinkGate
from portal.scanning.models import BLOCKING, ScanVerdict
from portal.scanning.selectors import is_quarantined
from portal.shares import tokens
from portal.people.models import GroupMember
from portal.shares.models import InternalShare, ShareLink
from portal.spaces.models import Space
from portal.spaces.selectors import in_spaces_of, role_sql

_MANAGING_ROLES = [role for role, caps in ROLE_CAPS.items() if Cap.LINK_MANAGE_OTHERS in caps]


def links_visible_to(actor, *, space_id=None, mine: bool = False) -> QuerySet[ShareLink]:
    """The actor's own links, plus every link in spaces they manage
    (administrators: every link), newest first."""
    links = ShareLink.objects.select_related("node", "space", "created_by")
    admin = is_admin(actor)
    # A member removed from a space keeps nothing of it through their links:
    # their own links count only in spaces they still belong to.
    own = Q(created_by=actor) if admin else Q(created_by=actor) & in_spaces_of(actor)
    if mine:
        links = links.filter(own)
    elif not admin:
        links = links.filter(own | in_spaces_of(actor, roles=_MANAGING_ROLES))
    if space_id is not None:
        links = links.filter(space_id=space_id)
    return links.order_by("-created_at", "-id")


def access_link(actor, link_id, *, lock: bool = False) -> ShareLink:
    """A link the actor owns or manages; the same NotFound otherwise."""
    try:
        link_id = int(link_id)
    except (TypeError, ValueError):
        raise NotFound(gettext("No such link.")) from None
    links = links_visible_to(actor)
    if lock:
        links = links.select_for_update(of=("self",))
    link = links.filter(pk=link_id).first()
    if link is None:
        raise NotFound(gettext("No such link."))
    return link


@dataclass(frozen=True)
class ResolvedLink:
    """A link as one request found it, in one query: the row, the shared
    node, its space, the node's path there (names as stored, folders in the
    trash included), the creator's role in the space and whether the node or
    a folder above it is in the trash. The node comes with its current
    version and blob, so a shared file needs no other read. Handed down;
    nothing re-resolves it."""

    link: ShareLink
    node: Node
    space: Space
    path_names: tuple[str, ...]
    creator_role: str | None
    in_trash: bool
    maybe_quarantined: bool = False     # the node's current version: see Target
    gated: bool = False                 # held shut by a sensitive-content policy (portal.governance)

    @property
    def label(self) -> str:
        """``link 7 on /Reports/q3.txt``: the same label in every event of a
        link (just the name once the node left the live tree)."""
        if self.in_trash:
            return f"link {self.link.pk} on {self.node.name}"
        return f"link {self.link.pk} on {names.join(list(self.path_names))}"


@dataclass(frozen=True)
class Target:
    """The node a visitor asked for inside a link (the shared node itself, or
    something below a shared folder), with its current version and blob."""

    node: Node
    inner: tuple[str, ...]          # the names below the shared node, as stored
    maybe_quarantined: bool         # False: certainly not; True: ask portal.scanning
    maybe_labelled: bool = True     # False: its version has no sensitive-content label; True: ask portal.governance

    @property
    def inner_path(self) -> str:
        return "/".join(self.inner)

    def quarantined(self) -> bool:
        return self.maybe_quarantined and is_quarantined(self.node.current_version)


_LINKS = ShareLink._meta.db_table
_UP = walk.walk_up_cte(f"{_LINKS}.node_id")
# Whether the shared node or any folder above it is in the trash (trashing a
# folder marks only that folder), as a column of the link's own query.
_IN_TRASH = f"EXISTS ({_UP}SELECT 1 FROM up WHERE up.trashed_at IS NOT NULL)"
# The shared node's path from its space's root (the root has no name), as a
# column too: files.walk.walk_up's walk, inside the link's query (PostgreSQL).
_PATH_NAMES = f"ARRAY({_UP}SELECT name FROM up WHERE parent_id IS NOT NULL ORDER BY depth DESC)"


def _resolving(links: QuerySet[ShareLink]) -> QuerySet[ShareLink]:
    table = ShareLink._meta.db_table
    creator_role = RawSQL(role_sql(f'"{table}"."space_id"', f'"{table}"."created_by_id"'), [])
    links = (links.select_related("node__current_version__blob", "space", "created_by")
             .annotate(creator_role=creator_role, in_trash=RawSQL(_IN_TRASH, []),
                       maybe_quarantined=_maybe_blocked("node__current_version_id"),
                       gated=Exists(LinkGate.objects.filter(link_id=OuterRef("pk"), closed=True))))
    if connection.vendor == "postgresql":
        links = links.annotate(path_names=RawSQL(_PATH_NAMES, []))
    return links


def _resolved(link: ShareLink) -> ResolvedLink:
    """The annotations move into the ResolvedLink: the row stays a plain row."""
    row = vars(link)
    role, in_trash, path = row.pop("creator_role"), bool(row.pop("in_trash")), row.pop("path_names", None)
    in_trash = in_trash or link.space.deleted_at is not None  # a space in the trash takes its links with it
    if path is None:  # SQLite: the walk is a query of its own
        path = [step.name for step in walk.walk_up(link.node_id)[1:]]
    return ResolvedLink(link=link, node=link.node, space=link.space, path_names=tuple(path),
                        creator_role=role, in_trash=in_trash, maybe_quarantined=bool(row.pop("maybe_quarantined")),
                        gated=bool(row.pop("gated", False)))


def link_from_token(token: str) -> ResolvedLink:
    """The link a visitor's token names, resolved in one query. Unknown,
    malformed and wrong tokens get the same NotFound; the secret is compared
    in constant time."""
    parsed = tokens.parse(token)
    link = None
    if parsed is not None:
        selector, secret = parsed
        link = _resolving(ShareLink.objects.filter(selector=selector)).first()
        if link is not None and not tokens.matches(secret, link.verifier):
            link = None
    if link is None:
        tokens.matches("0" * 32, "0" * 64)  # the same work whether or not the selector exists
        raise NotFound(gettext("There is no share link at this address. Check that you copied all of it."))
    return _resolved(link)


def link_resolved(link_id: int) -> ResolvedLink:
    """A link by its id, resolved as a visit resolves it (owner-side labels, tests)."""
    link = _resolving(ShareLink.objects.filter(pk=link_id)).first()
    if link is None:
        raise NotFound(gettext("No such link."))
    return _resolved(link)


# Whether any verdict that can keep bytes in (flagged, or held) concerns this
# version or another version of the same bytes. None (nearly always): the
# file is certainly not quarantined, without asking; some: portal.scanning
# decides with its full rules (_blocking_for), in a query or two.
def _maybe_blocked(version_id: str) -> Exists:
    return Exists(ScanVerdict.objects.filter(BLOCKING).filter(
        Q(version_id=OuterRef(version_id)) | Q(version__blob__versions__id=OuterRef(version_id))))


def _walk_sql(start_id: int, keys: list[str]) -> RawSQL:
    """The ids from the node ``start_id`` down along ``keys`` (name keys),
    live nodes only, stopping at the first one missing: one query, any depth."""
    cte, params = walk.walk_down_cte(None, keys, from_node=start_id)
    return RawSQL(f"{cte} SELECT id FROM walk", params)


def link_target(opened: ResolvedLink, path: str) -> Target:
    """The live node at ``path`` below a shared folder, with its current
    version and blob, in one query; ``""``: the shared node itself, as the
    link's query brought it (no query)."""
    try:
        wanted = names.split_path(path or "/", existing=True)
    except InvalidInput:  # "..", "." and the like name nothing inside the link
        raise NotFound(gettext("Nothing at this address in this shared folder.")) from None
    if not wanted:
        return Target(node=opened.node, inner=(), maybe_quarantined=opened.maybe_quarantined)
    rows = (Node.objects.select_related("current_version__blob")
            .annotate(maybe_quarantined=_maybe_blocked("current_version_id"),
                      maybe_labelled=Exists(ContentLabel.objects.filter(version_id=OuterRef("current_version_id"))))
            .filter(id__in=_walk_sql(opened.node.pk, [names.name_key(name) for name in wanted])))
    below = {node.parent_id: node for node in rows if node.pk != opened.node.pk}
    node = next((node for node in rows if node.pk == opened.node.pk), None)
    if node is None:
        raise NotFound(gettext("Nothing at this address in this shared folder."))
    seen = []
    for name in wanted:
        child = below.get(node.pk)
        if child is None:
            if not node.is_folder:
                raise NotFound(gettext("%(join)s is a file, not a folder.") % {"join": names.join(seen)})
            raise NotFound(gettext("Nothing at %(join)s in this shared folder.") % {"join": names.join(seen + [name])})
        node = child
        seen.append(child.name)
    return Target(node=node, inner=tuple(seen), maybe_quarantined=bool(vars(node).pop("maybe_quarantined")),
                  maybe_labelled=bool(vars(node).pop("maybe_labelled")))


def link_path_names(link: ShareLink) -> list[str]:
    """The shared node's path (one query); just its name once it left the live tree."""
    try:
        return path_names_of(link.node)
    except NotFound:
        return [link.node.name]


def accesses_list(link: ShareLink) -> QuerySet[AuditEvent]:
    """Everything that happened through (and to) a link, newest first."""
    return AuditEvent.objects.filter(target_type="sharelink", target_id=str(link.pk)).order_by("-id")


# --- internal shares (a file or folder given to a colleague or a group) -------------------

_SHARING_ROLES = [role for role, caps in ROLE_CAPS.items() if Cap.SHARE_CREATE in caps]
_GRANT_RANK = {"viewer": 1, "editor": 2}


def _live(now=None) -> Q:
    """Not revoked, not expired."""
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now or timezone.now()))


def _sharer_may_share() -> Q:
    """The sharer is still active and still holds share.create in the share's space
    (a sharer removed from the space, or disabled, takes their shares with them)."""
    table = InternalShare._meta.db_table
    return Q(created_by__is_active=True) & Q(
        pk__in=InternalShare.objects.annotate(sharer_role=RawSQL(
            role_sql(f'"{table}"."space_id"', f'"{table}"."created_by_id"'), []))
        .filter(sharer_role__in=_SHARING_ROLES).values("pk"))


def received_by(actor) -> Q:
    """Shares to the actor: to them, or to a group they are in (now)."""
    return Q(user_id=actor.pk) | Q(group_id__in=GroupMember.objects.filter(user_id=actor.pk).values("group_id"))


def live_shares_received(actor):
    return InternalShare.objects.filter(received_by(actor), _live(), _sharer_may_share())


def grant_on(actor, space_id: int, chain_ids: list[int]) -> tuple[int, str] | None:
    """What the actor's live shares give them on a node (``chain_ids``: the
    space's root down to the node): the topmost shared node and the highest
    role among them; None when no share covers it. One query."""
    if not (getattr(actor, "is_authenticated", False) and actor.is_active) or not chain_ids:
        return None
    rows = list(live_shares_received(actor).filter(space_id=space_id, node_id__in=chain_ids)
                .values_list("node_id", "role"))
    if not rows:
        return None
    depth = {node_id: index for index, node_id in enumerate(chain_ids)}
    top = min((node_id for node_id, _ in rows), key=depth.__getitem__)
    return top, max((role for _, role in rows), key=_GRANT_RANK.__getitem__)


def internal_shares_of(node) -> QuerySet[InternalShare]:
    """The live shares of a node, newest first (the caller checked share.create on it)."""
    return (InternalShare.objects.filter(_live(), node=node).select_related("user", "group", "created_by")
            .order_by("-created_at", "-id"))


def access_internal_share(actor, share_id, *, lock: bool = False) -> InternalShare:
    """A live share the actor made (and may still make), or one in a space
    where they manage others' links, or any for an administrator; the same
    NotFound otherwise."""
    try:
        share_id = int(share_id)
    except (TypeError, ValueError):
        raise NotFound(gettext("No such share.")) from None
    shares = InternalShare.objects.filter(pk=share_id, revoked_at__isnull=True).select_related("node", "space",
                                                                                             "user", "group")
    if not is_admin(actor):
        own = Q(created_by=actor) & in_spaces_of(actor, roles=_SHARING_ROLES)
        shares = shares.filter(own | in_spaces_of(actor, roles=_MANAGING_ROLES))
    if lock:
        shares = shares.select_for_update(of=("self",))
    share = shares.first()
    if share is None:
        raise NotFound(gettext("No such share."))
    return share


def shared_with_me(actor, *, limit: int = 200) -> list[InternalShare]:
    """The live files and folders shared with the actor (directly or through
    a group), newest first, one row per node (the highest role wins)."""
    shares = (live_shares_received(actor).filter(node__trashed_at__isnull=True, space__deleted_at__isnull=True,
                                                     node__space_id=F("space_id"))
              .select_related("node", "space", "created_by", "group").order_by("-created_at", "-id")[:limit])
    best: dict[int, InternalShare] = {}
    for share in shares:
        kept = best.get(share.node_id)
        if kept is None or _GRANT_RANK[share.role] > _GRANT_RANK[kept.role]:
            best[share.node_id] = share
    return sorted(best.values(), key=lambda share: (share.created_at, share.pk), reverse=True)
