"""A whole file in one request: the bytes go to the store first, then one
transaction makes them a version (or nothing, and the object is removed).

Used where a client sends a file in a single body: uploads through share
links, and small files from the browser.
"""

from __future__ import annotations

from typing import BinaryIO

from django.db import transaction
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.access import Cap
from portal.core.errors import PortalError
from portal.files import names
from portal.files.models import FileVersion, Node
from portal.files.selectors import child_named, path_walk
from portal.files.services.common import new_blob_key, refuse_too_large
from portal.files.services.tree import ensure_folders
from portal.files.services.uploads import after_new_version, refuse_locked, version_add
from portal.locks.services import records_lock_refusals
from portal.spaces.quota import check_quota, lock_spaces, refuse_archived
from portal.spaces.selectors import space_access
from portal.storage import get_store


def free_name(folder: Node, name: str) -> str:
    """``name``, or ``name (2)``, ``name (3)``, ... : the first one not taken in ``folder``."""
    free = names.first_free(name, lambda candidate: child_named(folder, candidate) is not None)
    if free is None:
        raise PortalError(gettext("Too many files with this name here."), code="name_exhausted", status=409)
    return free


@records_lock_refusals
def file_put(*, actor, space_id, path: str, fileobj: BinaryIO, size: int, keep_both: bool = False,
             lock_tokens=(), holds_locks: bool = True, details: dict | None = None,
             before_commit=None) -> FileVersion:
    """An editor (or a share link acting for its owner) stores a whole file at
    ``path``: a new file, or a new version of the file there. With
    ``keep_both`` an existing name is never overwritten: the file gets the
    first free "name (n)". Locks refuse the write unless the actor holds
    them (``holds_locks=False``: a share-link visitor, who never does).
    ``before_commit(version)`` runs inside the transaction and may refuse."""
    access = space_access(actor, space_id, Cap.FILE_WRITE)
    refuse_archived(access.space)
    path_names = names.split_path(path, existing=True)  # new names are checked where they are made
    if not path_names:
        raise PortalError(gettext("The path must end with the file's name."), code="invalid_path")
    refuse_too_large(size)
    check_quota(access.space, size)
    key = new_blob_key()
    store = get_store()
    stored = store.put(key, fileobj)
    try:
        if stored != size:
            raise PortalError(gettext("The file arrived incomplete; send it again."), code="size_mismatch")
        with transaction.atomic():
            space = lock_spaces(access.space.pk)[access.space.pk]
            # Again, after the body arrived (a large one takes minutes): the right to write now, under
            # the space's row lock that member changes take too.
            access = space_access(actor, space.pk, Cap.FILE_WRITE)
            refuse_archived(space)
            chain = path_walk(space, path_names, hold=True)
            if keep_both:
                parent, _, _ = ensure_folders(space, path_names[:-1], actor, chain=chain[:len(path_names)])
                path_names = [*path_names[:-1], free_name(parent, path_names[-1])]
                chain = path_walk(space, path_names, hold=True)
            refuse_locked(actor if holds_locks else None, access, chain, path_names, lock_tokens)
            made = version_add(actor=actor, space=space, path_names=path_names, chain=chain, key=key, size=size)
            version = made.version
            if before_commit is not None:
                before_commit(version)
            record(action=Action.FILE_UPLOADED, actor=actor, target=version.node, target_label=made.path,
                   space=space, details={"version": version.number, "size": size, **(details or {})})
            after_new_version(version, label=made.path, via_share="via_share" in (details or {}))
            return version
    except BaseException:
        store.delete(key)
        raise
