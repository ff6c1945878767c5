"""Reads of locks, and the one check every write to a file or folder makes.

A lock applies to its node and, with depth infinity (WebDAV collection locks),
to everything below it. It stops applying at ``expires_at``: every read here
compares with the current time, so an expired lock never blocks anyone even
before the beat task tidies it away.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy

from portal.core.access import Cap, caps_of
from portal.core.errors import Forbidden, Locked
from portal.files.models import Node
from portal.files.selectors import Located, path_label
from portal.files import walk
from portal.files.walk import ANCESTOR_IDS_SQL, NODES
from portal.locks.models import Lock, LockDepth, LockKind, LockScope

# Operations on a folder that carry everything below it along.
FOLDER_OPERATIONS = frozenset({"rename", "move", "delete"})
# Adding an item to a folder (a new file, a move or copy's destination): the
# folder's own locks and its ancestors' count, not locks on its other items.
MEMBER_OPERATIONS = frozenset({"add"})
_VERBS = {"write": gettext_lazy("changed"), "upload": gettext_lazy("given a new version"), "rename": gettext_lazy("renamed"),
          "move": gettext_lazy("moved"), "delete": gettext_lazy("deleted"), "restore": gettext_lazy("restored to an older version"),
          "add": gettext_lazy("given new items"), "lock": gettext_lazy("locked")}


def _live(now=None):
    return Lock.objects.filter(expires_at__gt=now or timezone.now()).select_related("owner")


# The nodes of a space's live locks at any depth below a folder (left out: those in the trash or under a
# trashed folder), found by walking up from each live lock of the space: its live locks times the depth in
# steps, whatever the folder holds.
LIVE_LOCKED_BELOW_SQL = (
    "WITH RECURSIVE up(locked, id, gone) AS ("
    f"SELECT l.node_id, n.parent_id, n.trashed_at IS NOT NULL FROM {Lock._meta.db_table} l "
    f"JOIN {NODES} n ON n.id = l.node_id WHERE l.expires_at > %s AND n.space_id = %s "
    f"UNION ALL SELECT up.locked, p.parent_id, p.trashed_at IS NOT NULL FROM up JOIN {NODES} p ON p.id = up.id "
    "WHERE up.id <> %s AND NOT up.gone) "
    "SELECT locked FROM up WHERE id = %s AND NOT gone")


def live_locks_for(node: Node, *, now=None, ancestor_ids: list[int] | None = None) -> list[Lock]:
    """The live locks that cover ``node``: its own, and its ancestors' with
    depth infinity (``ancestor_ids``, root to parent, when the caller walked them already)."""
    covering = Q(node_id=node.pk)
    if ancestor_ids:
        covering |= Q(depth=LockDepth.INFINITY, node_id__in=ancestor_ids)
    elif ancestor_ids is None and node.parent_id is not None:
        covering |= Q(depth=LockDepth.INFINITY, node_id__in=RawSQL(ANCESTOR_IDS_SQL, [node.parent_id]))
    return list(_live(now).filter(covering).order_by("created_at", "id"))


def locks_within(node: Node, *, now=None) -> list[Lock]:
    """The live locks on what a folder holds (at any depth), for operations on the whole folder."""
    if not node.is_folder:
        return []
    now = now or timezone.now()
    # From the locks up, not from the folder down: a move or rename of a folder of a million files
    # costs what the space's few live locks cost.
    below = RawSQL(LIVE_LOCKED_BELOW_SQL, [now, node.space_id, node.pk, node.pk])
    return list(_live(now).filter(node_id__in=below).select_related("node").order_by("created_at", "id"))


def any_live_lock_along(space_id: int, keys: list[str]) -> bool:
    """Whether any live lock sits on the nodes along a path (name keys), in
    one query: when none does, no lock can refuse a write there, and the
    precise check (ensure_writable) can be skipped by an early check."""
    cte, params = walk.walk_down_cte(space_id, keys)
    with connection.cursor() as cursor:
        cursor.execute(f"{cte} SELECT 1 FROM {Lock._meta.db_table} l JOIN walk ON l.node_id = walk.id "
                       "WHERE l.expires_at > %s LIMIT 1", [*params, timezone.now()])
        return cursor.fetchone() is not None


def any_live_lock_in_space(space_id: int) -> bool:
    """Whether any live lock exists in the space (one query): writers of many
    files at once check each file's locks only when one does."""
    return Lock.objects.filter(node__space_id=space_id, expires_at__gt=timezone.now()).exists()


def lock_by_token(token, *, include_expired: bool = False) -> Lock | None:
    """The lock with this token (live ones only unless asked), with its node and owner."""
    if not isinstance(token, str) or not token:
        return None
    locks = Lock.objects.select_related("node", "owner")
    if not include_expired:
        locks = locks.filter(expires_at__gt=timezone.now())
    return locks.filter(token=token).first()


def own_locks_on(node: Node, actor) -> list[Lock]:
    """The actor's live locks on the node itself."""
    if not getattr(actor, "is_authenticated", False):
        return []
    return list(_live().filter(node_id=node.pk, owner=actor).order_by("created_at", "id"))


def lock_info(lock: Lock, viewer=None) -> dict:
    """What anyone who can see the file may know of a lock; the token only for its owner."""
    info = {
        "id": lock.pk,
        "node": lock.node_id,
        "owner": lock.owner.get_username(),
        "owner_name": lock.owner.get_full_name() or lock.owner.get_username(),
        "since": lock.created_at,
        "expires_at": lock.expires_at,
        "kind": lock.kind,
        "client": lock.client,
        "note": lock.note,
        "scope": lock.scope,
        "depth": lock.depth,
    }
    if viewer is not None and getattr(viewer, "pk", None) == lock.owner_id:
        info["token"] = lock.token
    return info


def _primary(locks: list[Lock]) -> Lock | None:
    """The lock to show for a node: an exclusive one before shared ones, the oldest first."""
    return min(locks, key=lambda lock: (lock.scope != LockScope.EXCLUSIVE, lock.created_at, lock.pk), default=None)


def lock_summary(node: Node, *, viewer=None) -> dict | None:
    """The lock shown in a node's metadata (``lock_info`` of the primary covering lock), or None."""
    return summary_of(live_locks_for(node), viewer=viewer)


def summary_of(covering: list[Lock], *, viewer=None) -> dict | None:
    """``lock_summary`` from the covering locks a caller already read. A
    co-editing lock names everyone editing (``editors``), not just its owner."""
    lock = _primary(covering)
    if lock is None:
        return None
    info = lock_info(lock, viewer)
    if lock.kind == LockKind.COEDIT:
        info["editors"] = sorted({other.owner.get_full_name() or other.owner.get_username()
                                  for other in covering if other.kind == LockKind.COEDIT})
    return info


def lock_summaries(nodes: Iterable[Node], *, viewer=None, folder: Node | None = None) -> dict[int, dict | None]:
    """The lock shown for each node (``lock_info`` of its primary covering
    lock, or None), by node id, in one query whatever their number: the locks
    on the nodes themselves and, with ``folder`` (the folder they are listed
    in), the locks covering the folder, whose depth-infinity ones cover the
    nodes too. The folder's own summary comes with them, under its id."""
    nodes = list(nodes)
    listed = {node.pk for node in nodes}
    wanted = Q(node_id__any=listed)
    if folder is not None:
        wanted |= Q(node_id=folder.pk)
        if folder.parent_id is not None:
            wanted |= Q(depth=LockDepth.INFINITY, node_id__in=RawSQL(ANCESTOR_IDS_SQL, [folder.parent_id]))
    elif not listed:
        return {}
    own: dict[int, list[Lock]] = {}
    covering: list[Lock] = []  # the folder's own locks and its ancestors' depth-infinity ones
    for lock in _live().filter(wanted):
        if lock.node_id in listed:
            own.setdefault(lock.node_id, []).append(lock)
        else:
            covering.append(lock)
    inherited = [lock for lock in covering if lock.depth == LockDepth.INFINITY]
    summaries = {node.pk: summary_of(own.get(node.pk, []) + inherited, viewer=viewer) for node in nodes}
    if folder is not None:
        summaries[folder.pk] = summary_of(covering, viewer=viewer)
    return summaries


# --- The write check -------------------------------------------------------------


def wopi_lock_token(lock_string: str) -> str:
    """How a WOPI write names the lock string it holds among a write's tokens (portal.collab.wopi)."""
    return WOPI_TOKEN_PREFIX + lock_string


WOPI_TOKEN_PREFIX = "wopi-lock:"


def _holds(lock: Lock, actor, tokens: frozenset[str]) -> bool:
    """Whether the write is the lock owner's own (with the token, where the lock needs it). A WOPI
    lock is held by whoever presents its lock string: an office server uses one for every user
    editing the document (each of them still needs file.write, checked before locks)."""
    if actor is None:
        return False
    if lock.wopi_lock and wopi_lock_token(lock.wopi_lock) in tokens:
        return True
    if lock.owner_id != actor.pk:
        return False
    return not lock.needs_token or lock.token in tokens


def blocking_locks(locks: list[Lock], actor, tokens: frozenset[str]) -> list[Lock]:
    """Of the locks covering a node, those that stop the actor: every
    exclusive lock not theirs, and the shared ones unless they hold one of them."""
    exclusive = [lock for lock in locks if lock.scope == LockScope.EXCLUSIVE and not _holds(lock, actor, tokens)]
    shared = [lock for lock in locks if lock.scope == LockScope.SHARED]
    if shared and any(_holds(lock, actor, tokens) for lock in shared):
        shared = []
    return exclusive + shared


def hold_rows(node: Node, *, taking_lock: bool = False, whole_folder: bool = False,
              ancestor_ids: list[int] | None = None) -> None:
    """Row-lock the node and its ancestors so that taking a lock and writing
    under one never interleave, while writes elsewhere in the tree, and writes
    beside one another, do not wait. PostgreSQL row-lock modes:

    - taking a lock: FOR UPDATE on the node, FOR SHARE on its ancestors;
    - a write: FOR KEY SHARE on the node and its ancestors (waits for a lock
      being taken on any of them);
    - renaming, moving or deleting a whole folder: FOR NO KEY UPDATE on the
      folder (waits for a lock being taken anywhere inside it).

    No mode here conflicts with the plain UPDATEs writers make, so the space
    row lock (lock_spaces) can be taken before or after without deadlocks.
    Only on PostgreSQL inside a transaction (SQLite serializes writers)."""
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return
    above = "SHARE" if taking_lock else "KEY SHARE"
    itself = "UPDATE" if taking_lock else "NO KEY UPDATE" if whole_folder else "KEY SHARE"
    with connection.cursor() as cursor:
        if ancestor_ids is not None and above == itself:  # one statement for the whole chain
            ids = [*ancestor_ids, node.pk]
            cursor.execute(f"SELECT id FROM {NODES} WHERE id IN ({', '.join(['%s'] * len(ids))}) "
                           f"ORDER BY id FOR {above}", ids)
            return
        if ancestor_ids:
            cursor.execute(f"SELECT id FROM {NODES} WHERE id IN ({', '.join(['%s'] * len(ancestor_ids))}) "
                           f"ORDER BY id FOR {above}", ancestor_ids)
        elif ancestor_ids is None and node.parent_id is not None:
            cursor.execute(f"SELECT id FROM {NODES} WHERE id IN ({ANCESTOR_IDS_SQL}) ORDER BY id FOR {above}",
                           [node.parent_id])
        cursor.execute(f"SELECT id FROM {NODES} WHERE id = %s FOR {itself}", [node.pk])


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def _describe(lock: Lock, space_name: str) -> str:
    owner = lock.owner.get_full_name() or lock.owner.get_username()
    client = f" ({lock.client})" if lock.client else ""
    return gettext("locked by %(owner)s%(client)s since %(since)s until %(until)s; %(owner)s, a manager of space "
                   "'%(space)s' or an administrator can unlock it") % {
        "owner": owner, "client": client, "since": _when(lock.created_at), "until": _when(lock.expires_at),
        "space": space_name}


def _refusal(target: Located, *, actor, operation: str, blocking: list[Lock], within: list[Lock]) -> Locked:
    path, space_name = target.path, target.space.name
    verb = str(_VERBS.get(operation, _VERBS["write"]))
    infos = [lock_info(lock) for lock in blocking + within]
    detail = {"path": path, "operation": operation, "locks": infos}
    coediting = [lock for lock in blocking if lock.kind == LockKind.COEDIT]
    if coediting and len(coediting) == len(blocking):
        editors = sorted({lock.owner.get_full_name() or lock.owner.get_username() for lock in coediting})
        detail["editors"] = editors
        message = gettext("%(path)s cannot be %(verb)s: %(editors)s are editing it together in the browser. Their "
                          "work is saved as a new version when they finish; try again then, or join them.") % {
            "path": path, "verb": verb, "editors": ", ".join(editors)}
    elif blocking:
        lock = blocking[0]
        where = "" if lock.node_id == target.node.pk else gettext(" (through %(path)s)") % {
            "path": path_label(lock.node)}
        message = gettext("%(path)s cannot be %(verb)s: it is %(lock)s%(where)s.") % {
            "path": path, "verb": verb, "lock": _describe(lock, space_name), "where": where}
    else:
        locked_paths = sorted({path_label(lock.node) for lock in within})
        shown = ", ".join(locked_paths[:5]) + (gettext(" and %(count)s more") % {"count": len(locked_paths) - 5}
                                               if len(locked_paths) > 5 else "")
        message = gettext("%(path)s cannot be %(verb)s: it holds locked files (%(shown)s). Their owners, a manager "
                          "of space '%(space)s' or an administrator can unlock them.") % {
            "path": path, "verb": verb, "shown": shown, "space": space_name}
        detail["locked_paths"] = locked_paths
    exc = Locked(message, detail=detail)
    exc.refusal = {"actor": actor, "node": target.node, "space": target.space, "operation": operation,
                   "path": path, "lock_ids": [info["id"] for info in infos]}
    return exc


def ensure_writable(target: Located, *, actor, tokens: Iterable[str] = (), operation: str = "write",
                    chain_ids: list[int] | None = None, hold: bool = True) -> list[Lock]:
    """Raise Locked (423) unless every live lock covering the target is the
    actor's own, with its token in ``tokens`` for editor and agent locks.
    ``actor`` None (a share-link visitor) is stopped by any live lock. A
    signed-in actor without file.write in the space (the role in ``target``)
    gets Forbidden (403) before any lock is looked at. For rename, move and
    delete of a folder, locks on what it holds count too. ``chain_ids``: the
    ids from the root to the target, when the caller walked them already.

    Except for ``add`` (checking a destination folder), the rows are held
    (``hold_rows``) for the rest of the transaction, so no lock can be taken
    on the node, above it or (for folder operations) inside it between this
    check and the write (``hold=False``: an early check that writes nothing).

    This only raises. The refusal is recorded as ``lock.write_refused`` by the
    calling service (``portal.locks.services.records_lock_refusals``) once its
    transaction has rolled back. Returns the live locks covering the target
    (none of them stopping the actor), for callers that show them."""
    node = target.node
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    if actor is not None and not (actor.is_active and Cap.FILE_WRITE in caps_of(target.role, admin=target.admin)):
        # Capability first: someone who may not write learns 403, not whose lock is there.
        raise Forbidden(gettext("Only editors can change files in space %(name)r.") % {"name": target.space.name},
                        detail={"capability": Cap.FILE_WRITE.value})
    above = chain_ids[:-1] if chain_ids is not None else None
    if hold and operation not in MEMBER_OPERATIONS:
        hold_rows(node, whole_folder=node.is_folder and operation in FOLDER_OPERATIONS, ancestor_ids=above)
    tokens = frozenset(tokens or ())
    now = timezone.now()
    covering = live_locks_for(node, now=now, ancestor_ids=above)
    blocking = blocking_locks(covering, actor, tokens)
    within = []
    if node.is_folder and operation in FOLDER_OPERATIONS:
        within = [lock for lock in locks_within(node, now=now) if not _holds(lock, actor, tokens)]
    if blocking or within:
        raise _refusal(target, actor=actor, operation=operation, blocking=blocking, within=within)
    return covering
