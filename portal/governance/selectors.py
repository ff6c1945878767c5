"""Reads for retention and legal holds, and the one check every purge path asks.

``protection(node_ids)`` resolves, in a fixed handful of queries whatever the
batch size, which of the given nodes sit under an active legal hold and which
of their versions are still retained (and until when). Purge paths that work
in bulk call it once per batch and skip (automatic tasks) or refuse (a person
asked) what it protects; ``refuse_purge`` turns it into the refusal message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable

from django.db import connection
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext

from portal.core.errors import Conflict
from portal.files.models import FileVersion, Node
from portal.files import walk
from portal.governance.models import HoldKind, LegalHold, RetentionPolicy


class UnderLegalHold(Conflict):
    code = "legal_hold"


class UnderRetention(Conflict):
    code = "under_retention"


@dataclass(frozen=True)
class Holds:
    """The active holds, by what they cover; read once per batch."""
    users: dict[int, LegalHold] = field(default_factory=dict)
    spaces: dict[int, LegalHold] = field(default_factory=dict)
    folders: dict[int, LegalHold] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.users or self.spaces or self.folders)


# A PostgreSQL advisory lock between purges and the making of holds and policies: a purge reads what protects
# its batch holding it shared until its transaction ends, a new hold or policy takes it exclusively. A hold made
# while a purge runs then either waits for the purge to commit, or is seen by it: never missed and lost to it.
GUARD_KEY = 0x60FE_4E0D


def _guard(function: str) -> None:
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s)", [GUARD_KEY])


def purge_guard() -> None:
    """Purges: take it before reading what protects the batch (and before row locks, so as not to deadlock
    with a hold being made); protection() takes it too."""
    _guard("pg_advisory_xact_lock_shared")


def protection_change_guard() -> None:
    """Making a hold or a retention policy: wait for running purges, and make new ones wait for the commit."""
    _guard("pg_advisory_xact_lock")


def active_holds() -> Holds:
    purge_guard()
    holds = Holds()
    for hold in LegalHold.objects.filter(released_at__isnull=True).order_by("created_at", "id"):
        by_kind = {HoldKind.USER: (holds.users, hold.user_id), HoldKind.SPACE: (holds.spaces, hold.space_id),
                   HoldKind.FOLDER: (holds.folders, hold.node_id)}[hold.kind]
        if by_kind[1] is not None:
            by_kind[0].setdefault(by_kind[1], hold)
    if holds.users:  # a held user's personal space is held whole
        from portal.spaces.models import Space, SpaceKind
        for space_id, user_id in Space.objects.filter(kind=SpaceKind.PERSONAL, created_by_id__in=holds.users
                                                      ).values_list("pk", "created_by_id"):
            holds.spaces.setdefault(space_id, holds.users[user_id])
    return holds


def held_user_ids() -> set[int]:
    """Users under an active hold: their devices' snapshots and packs stay."""
    purge_guard()
    return set(LegalHold.objects.filter(kind=HoldKind.USER, released_at__isnull=True, user__isnull=False)
               .values_list("user_id", flat=True))


@dataclass
class Protection:
    """What a batch of nodes may not lose: held nodes, retained versions."""
    held: dict[int, LegalHold] = field(default_factory=dict)          # node id -> the hold covering it
    retained: dict[int, datetime] = field(default_factory=dict)       # version id -> kept until
    node_of: dict[int, int] = field(default_factory=dict)             # retained version id -> node id
    days: dict[int, int] = field(default_factory=dict)                # node id -> the longest policy's days

    def node_blocked(self, node_id: int) -> bool:
        return node_id in self.held or node_id in self._retained_nodes()

    def version_blocked(self, version_id: int, node_id: int) -> bool:
        return node_id in self.held or version_id in self.retained

    def blocked_nodes(self) -> set[int]:
        return set(self.held) | self._retained_nodes()

    def _retained_nodes(self) -> set[int]:
        return set(self.node_of.values())

    def until(self, node_ids: Iterable[int] | None = None) -> datetime | None:
        wanted = None if node_ids is None else set(node_ids)
        dates = [until for pk, until in self.retained.items() if wanted is None or self.node_of[pk] in wanted]
        return max(dates) if dates else None


def _covering(roots: dict[int, LegalHold], node_ids: set[int]) -> dict[int, LegalHold]:
    """node id -> a hold on a folder whose subtree holds it (one query per held folder)."""
    found: dict[int, object] = {}
    for root_id, value in roots.items():
        for pk in {root_id, *walk.descendant_ids(root_id, live_only=False)} & node_ids:
            found.setdefault(pk, value)
    return found


def _folder_days(node_ids: set[int], folder_policies: dict[int, RetentionPolicy]) -> dict[int, int]:
    days: dict[int, int] = {}
    for root_id, policy in folder_policies.items():
        for pk in {root_id, *walk.descendant_ids(root_id, live_only=False)} & node_ids:
            days[pk] = max(days.get(pk, 0), policy.days)
    return days


def protection(node_ids: Iterable[int], *, now: datetime | None = None, holds: Holds | None = None,
               retention: bool = True) -> Protection:
    """Resolve holds and retention for ``node_ids`` (pass a whole subtree when
    purging a folder): a fixed number of queries per call, plus one per
    folder that carries a hold or a policy. Inside a transaction, under
    purge_guard() (a hold being made is waited for, not missed)."""
    now = now or timezone.now()
    ids = set(node_ids)
    result = Protection()
    if not ids:
        return result
    purge_guard()
    holds = active_holds() if holds is None else holds
    nodes = {row[0]: row[1:] for row in Node.objects.filter(pk__in=ids).values_list("pk", "space_id", "created_by_id")}
    spaces = {space_id for space_id, _ in nodes.values()}
    # A folder's policy follows its folder (also into another space); a space's stays with the space.
    policies = list(RetentionPolicy.objects.filter(Q(node__isnull=True, space_id__in=spaces)
                                                   | Q(node__space_id__in=spaces))) if retention else []
    space_days = {p.space_id: p.days for p in policies if p.node_id is None}
    folder_days = _folder_days(ids, {p.node_id: p for p in policies if p.node_id is not None})
    if holds:
        in_folder = _covering(holds.folders, ids)
        for pk, (space_id, creator) in nodes.items():
            hold = (in_folder.get(pk) or holds.spaces.get(space_id) or holds.users.get(creator))
            if hold is not None:
                result.held[pk] = hold
    days_of = {pk: max(space_days.get(space_id, 0), folder_days.get(pk, 0)) for pk, (space_id, _) in nodes.items()}
    result.days = {pk: days for pk, days in days_of.items() if days}
    watched = {pk for pk, days in days_of.items() if days} | (set(nodes) - set(result.held) if holds.users else set())
    if not watched:
        return result
    oldest = now - timedelta(days=max(days_of.values(), default=0))
    versions = FileVersion.objects.filter(node_id__in=watched)
    if not holds.users:
        versions = versions.filter(created_at__gt=oldest)
    for pk, node_id, created_at, creator in versions.values_list("pk", "node_id", "created_at", "created_by_id"):
        if creator in holds.users and node_id not in result.held:
            result.held[node_id] = holds.users[creator]
        until = created_at + timedelta(days=days_of.get(node_id, 0))
        if until > now:
            result.retained[pk], result.node_of[pk] = until, node_id
    return result


def _when(moment: datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "Y-m-d")


def refuse_purge(found: Protection, *, label: str, node_ids: Iterable[int] | None = None) -> None:
    """Raise the refusal a person sees when ``found`` protects any of ``node_ids`` (all when None)."""
    wanted = None if node_ids is None else set(node_ids)
    held = [hold for pk, hold in found.held.items() if wanted is None or pk in wanted]
    if held and held[0].kind == HoldKind.USER:  # who is held is the administrators' secret: not named
        raise UnderLegalHold(
            gettext("“%(name)s” is under a legal hold: nothing in it can be deleted for good until an administrator "
                    "releases the hold. Moving it to the trash is still possible.") % {"name": label})
    if held:
        raise UnderLegalHold(
            gettext("“%(name)s” is under a legal hold (%(hold)s): nothing in it can be deleted for good until "
                    "an administrator releases the hold. Moving it to the trash is still possible.")
            % {"name": label, "hold": str(held[0])}, detail={"hold_id": held[0].pk})
    until = found.until(wanted)
    if until is not None:
        raise UnderRetention(
            gettext("“%(name)s” is under a retention policy until %(date)s: it cannot be deleted for good "
                    "before then, by anyone. Moving it to the trash is still possible.")
            % {"name": label, "date": _when(until)}, detail={"until": until.isoformat()})


def held_blob_ids(blob_ids: Iterable[int]) -> set[int]:
    """Of ``blob_ids``, those a version under an active hold points at (they must not change tier)."""
    holds = active_holds()
    ids = set(blob_ids)
    if not holds or not ids:
        return set()
    rows = list(FileVersion.objects.filter(blob_id__in=ids).values_list("blob_id", "node_id"))
    held = held_nodes({node_id for _, node_id in rows}, holds=holds)
    return {blob_id for blob_id, node_id in rows if node_id in held}


def held_nodes(node_ids: Iterable[int], *, holds: Holds | None = None) -> set[int]:
    """Of ``node_ids``, those under an active legal hold (no retention resolved)."""
    holds = active_holds() if holds is None else holds
    return set(protection(node_ids, holds=holds, retention=False).held) if holds else set()


def refuse_move_out(node: Node, *, to_space_id: int, to_parent_id: int, label: str) -> None:
    """A move may not carry a held or retained subtree somewhere that holds or keeps it less: a folder or
    space hold stays only where it is, a retention only under a policy at least as long."""
    from portal.files.selectors import subtree_ids

    holds = active_holds()
    if not holds and _nothing_retained_moves(node, to_space_id=to_space_id):
        return  # the common case, answered without reading the subtree: a move costs the same whatever it holds
    ids = subtree_ids(node)
    here = protection(ids, holds=holds)
    if not here.held and not here.retained:
        return
    inside = set(ids)
    there = protection([to_parent_id], holds=holds)
    # What travels with the subtree: a user hold on what the user made or wrote (not on what merely sits in his
    # personal space), and holds on a folder or file inside it. What covers things put into the destination: a
    # space hold (a held user's personal space included) or a folder hold above it, not a user hold on the
    # folder's maker.
    travelling = set(protection(ids, holds=Holds(users=holds.users, folders={
        pk: hold for pk, hold in holds.folders.items() if pk in inside}), retention=False).held) if holds else set()
    sheltered = to_parent_id in protection([to_parent_id], holds=Holds(spaces=holds.spaces, folders=holds.folders),
                                           retention=False).held if holds else False
    if set(here.held) - travelling and not sheltered:
        raise UnderLegalHold(gettext("“%(name)s” is under a legal hold: it can be moved only within what the hold "
                                     "covers.") % {"name": label}, code="legal_hold_move")
    carried = _folder_days(inside, {p.node_id: p for p in RetentionPolicy.objects.filter(node_id__in=inside)})
    after = there.days.get(to_parent_id, 0)
    if any(max(after, carried.get(pk, 0)) < here.days.get(pk, 0) for pk in set(here.node_of.values())):
        raise UnderRetention(gettext("“%(name)s” is under a retention policy until %(date)s: it can be moved only "
                                     "where a policy at least as long covers it.")
                             % {"name": label, "date": _when(here.until())}, code="retention_move")


def _nothing_retained_moves(node: Node, *, to_space_id: int) -> bool:
    """No retention policy in the node's space (its own or a folder's), or only the space's own and the
    move stays in the space (the same policy covers where it goes): nothing a move could carry out of reach."""
    policies = set(RetentionPolicy.objects.filter(Q(node__isnull=True, space_id=node.space_id)
                                                  | Q(node__space_id=node.space_id)).values_list("node_id", flat=True))
    return not policies or (policies == {None} and to_space_id == node.space_id)


def space_protection(space_id: int) -> Protection:
    """Everything a whole space would lose (deleting it)."""
    return protection(Node.objects.filter(space_id=space_id).values_list("pk", flat=True))


# -- console and API reads ---------------------------------------------------------------------------------

def hold_list(*, active: bool | None = None):
    rows = LegalHold.objects.select_related("user", "space", "node", "created_by", "released_by")
    if active is True:
        rows = rows.filter(released_at__isnull=True)
    elif active is False:
        rows = rows.filter(released_at__isnull=False)
    return rows


def retention_list(*, space_id: int | None = None):
    rows = RetentionPolicy.objects.select_related("space", "node__space", "created_by").order_by("space__name", "node_id")
    if space_id is not None:
        rows = rows.filter(space_id=space_id)
    return rows


def review_list():
    from portal.governance.models import ReviewItem
    return ReviewItem.objects.filter(resolved_at__isnull=True).select_related("node__space", "policy")


def space_retention(space_id: int) -> RetentionPolicy | None:
    return RetentionPolicy.objects.filter(space_id=space_id, node__isnull=True).first()
