"""WebDAV's composite changes: what one WebDAV request does with several of
the tree's and the locks' services, as one service with one transaction.

Only the WebDAV adapter (portal.dav) calls these: they follow RFC 4918
where it differs from the API (a MOVE or COPY onto an existing name
replaces it; a DELETE destroys the deleter's own locks). The services they
call check access and locks and record every audit event; a lock refusal
rolls the whole change back and is recorded once, after the rollback.
"""

from __future__ import annotations

from django.db import transaction

from portal.dav.services import lock_owner_forget, lock_owner_remember, properties_copy
from portal.files.models import Node
from portal.files.selectors import Located
from portal.files.services.tree import folder_create, node_copy, node_move, node_trash
from portal.locks.models import Lock
from portal.locks.selectors import live_locks_for, locks_within
from portal.locks.services import lock_acquire, lock_release, records_lock_refusals


def _own_locks_on(target: Located, actor, lock_tokens) -> list[Lock]:
    """The actor's live locks on the node and inside it that this request may
    release: those it names a token for, and those that need none."""
    node = target.node
    rooted = [lock for lock in live_locks_for(node) if lock.node_id == node.pk] + locks_within(node)
    return [lock for lock in rooted
            if lock.owner_id == actor.pk and (lock.token in lock_tokens or not lock.needs_token)]


@records_lock_refusals
@transaction.atomic
def dav_delete(*, actor, target: Located, lock_tokens=()) -> Node:
    """Editors delete a node over WebDAV (DELETE, or a MOVE or COPY onto its
    name): to the trash like the API's DELETE, and the actor's own locks on
    it and inside it are released (RFC 4918 9.6), only if the node goes.
    Anyone else's lock refuses the delete (423)."""
    for lock in _own_locks_on(target, actor, lock_tokens):
        lock_release(actor=actor, token=lock.token)
    return node_trash(actor=actor, node_id=target.node.pk, lock_tokens=lock_tokens).node


@records_lock_refusals
@transaction.atomic
def dav_move(*, actor, source: Located, space_id, path: str, replacing: Located | None = None,
             lock_tokens=()) -> Node:
    """Editors MOVE a node over WebDAV to ``path`` in a space they can write;
    ``replacing``, a different node already at ``path`` (Overwrite: T), goes
    to the trash first (dav_delete). Nothing happens unless all of it does."""
    if replacing is not None:
        dav_delete(actor=actor, target=replacing, lock_tokens=lock_tokens)
    return node_move(actor=actor, node_id=source.node.pk, path=path, space_id=space_id,
                     lock_tokens=lock_tokens).node


@records_lock_refusals
@transaction.atomic
def dav_copy(*, actor, source: Located, space_id, path: str, shallow: bool = False,
             replacing: Located | None = None, lock_tokens=()) -> Node:
    """Readers of the source who can write the destination COPY it over
    WebDAV to ``path``, with its dead properties: the whole tree, or with
    ``shallow`` (a folder with Depth: 0) an empty folder. ``replacing`` as in
    dav_move. Nothing happens unless all of it does."""
    if replacing is not None:
        dav_delete(actor=actor, target=replacing, lock_tokens=lock_tokens)
    if shallow and source.node.is_folder:
        copy = folder_create(actor=actor, space_id=space_id, path=path)[0].node
        properties_copy(source=source.node, copy=copy, members=False)
        return copy
    copy = node_copy(actor=actor, node_id=source.node.pk, path=path, space_id=space_id,
                     lock_tokens=lock_tokens).node
    properties_copy(source=source.node, copy=copy)
    return copy


@transaction.atomic
def dav_lock_acquire(*, actor, target: Located, owner_xml: str, note: str = "", client: str = "",
                     timeout=None, scope: str, depth: str) -> Lock:
    """Editors LOCK a node over WebDAV: an editor lock (lock_acquire), and
    the client's <owner> element kept to echo in lockdiscovery."""
    lock = lock_acquire(actor=actor, node=target.node, kind="editor", timeout=timeout, note=note, client=client,
                        scope=scope, depth=depth)
    lock_owner_remember(token=lock.token, owner_xml=owner_xml)
    return lock


@transaction.atomic
def dav_lock_release(*, actor, token: str) -> None:
    """A lock's owner UNLOCKs it over WebDAV (lock_release) and its <owner> element goes with it."""
    lock_release(actor=actor, token=token)
    lock_owner_forget(token=token)
