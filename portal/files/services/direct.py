"""A whole file in one request: the bytes go to the store first, then one
transaction makes them a version (or nothing, and the object is removed).

Used where a client sends a file in a single body: uploads through share
links, and small files from the browser.
"""

from __future__ import annotations

import uuid
from typing import BinaryIO

from django.conf import settings
from django.db import transaction

from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.access import Cap
from portal.core.errors import PortalError
from portal.files import names
from portal.files.models import FileVersion, Node
from portal.files.selectors import child_named
from portal.files.services.common import check_quota, lock_spaces, refuse_archived
from portal.files.services.uploads import _refuse_locked, version_add
from portal.locks.services import records_lock_refusals
from portal.spaces.selectors import access_space
from portal.storage import get_store


def free_name(folder: Node, name: str) -> str:
    """``name``, or ``name (2)``, ``name (3)``, ... : the first one not taken in ``folder``."""
    if child_named(folder, name) is None:
        return name
    stem, dot, ext = name.rpartition(".")
    if not stem:
        stem, dot, ext = name, "", ""
    for number in range(2, 10_000):
        candidate = f"{stem} ({number}){dot}{ext}"
        if child_named(folder, candidate) is None:
            return candidate
    raise PortalError("Too many files with this name here.", code="name_exhausted", status=409)


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
    space = access_space(actor, space_id, Cap.FILE_WRITE)
    refuse_archived(space)
    path_names = names.split_path(path, existing=True)  # new names are checked where they are made
    if not path_names:
        raise PortalError("The path must end with the file's name.", code="invalid_path")
    if size > settings.MAX_FILE_SIZE:
        raise PortalError(f"Files are at most {settings.MAX_FILE_SIZE} bytes here.", code="file_too_large",
                          status=413, detail={"max_size": settings.MAX_FILE_SIZE})
    check_quota(space, size)
    key = f"blobs/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}"
    store = get_store()
    stored = store.put(key, fileobj)
    try:
        if stored != size:
            raise PortalError("The file arrived incomplete; send it again.", code="size_mismatch")
        with transaction.atomic():
            space = lock_spaces(space.pk)[space.pk]
            # Again, after the body arrived (a large one takes minutes): the right to write now, under
            # the space's row lock that member changes take too.
            access_space(actor, space.pk, Cap.FILE_WRITE)
            refuse_archived(space)
            if keep_both:
                from portal.files.services.tree import ensure_folders

                parent, _ = ensure_folders(space, path_names[:-1], actor)
                path_names = [*path_names[:-1], free_name(parent, path_names[-1])]
            final_path = names.join(path_names)
            _refuse_locked(actor if holds_locks else None, space, path_names, lock_tokens)
            version = version_add(actor=actor, space=space, path=final_path, key=key, size=size)
            if before_commit is not None:
                before_commit(version)
            record(action=Action.FILE_UPLOADED, actor=actor, target=version.node, target_label=final_path,
                   space=space, details={"version": version.number, "size": size, **(details or {})})
            from portal.files.tasks import hash_blob
            from portal.scanning.services import scan_queue

            transaction.on_commit(lambda: hash_blob.delay(version.blob_id))
            scan_queue(version, via_share="via_share" in (details or {}))
            return version
    except BaseException:
        store.delete(key)
        raise
