"""wsgidav's lock storage, backed by Coffer's lock table.

wsgidav thinks of locks by URL; Coffer by node. Each call maps the URL to
the node the signed-in user sees there and asks portal.locks, so a lock taken
over WebDAV shows in the browser and blocks API uploads, and a lock taken in
the portal shows in lockdiscovery and makes WebDAV writes fail with 423.
WebDAV locks are kind "editor": writes need their token (If header).
"""

from __future__ import annotations

from wsgidav import xml_tools
from wsgidav.dav_error import (
    HTTP_FORBIDDEN,
    HTTP_LOCKED,
    DAVError,
    DAVErrorCondition,
    PRECONDITION_CODE_LockConflict,
)
from wsgidav.lock_man.lock_manager import LockManager, normalize_lock_root

from portal.core.access import Cap
from portal.spaces.selectors import can
from portal.core.errors import Conflict, PortalError
from portal.dav.auth import USER_KEY
from portal.dav.errors import as_dav_error
from portal.dav.models import LockOwner
from portal.dav.request import current_environ
from portal.dav.resources import RESOURCES_KEY, node_ref, owner_xml_for
from portal.dav.services import lock_owner_forget, lock_owner_remember
from portal.files.selectors import attach_path


def _owner_text(owner_xml: bytes) -> str:
    """The words inside <owner> (a name, or an href), for the portal's lock note."""
    try:
        return " ".join("".join(xml_tools.string_to_xml(owner_xml).itertext()).split())
    except (xml_tools.etree.XMLSyntaxError, ValueError):  # a note is a nicety; the lock stands without one
        return ""


class CofferLockStorage:
    def __init__(self):
        self.provider = None  # set once the app has its provider

    def __repr__(self) -> str:
        return "CofferLockStorage"

    # Nothing to open, close or tidy: the lock table lives in the database,
    # and portal.locks' beat task removes expired rows.
    def open(self):
        pass

    def close(self):
        pass

    def cleanup(self):
        pass

    def clear(self):
        pass

    # --- helpers ------------------------------------------------------------------

    def _environ(self) -> dict:
        environ = current_environ.get()
        if environ is None:
            raise RuntimeError("The WebDAV lock storage was used outside a request.")
        return environ

    def _resource(self, path: str):
        environ = self._environ()
        ref = normalize_lock_root(path)
        resource = environ.get(RESOURCES_KEY, {}).get(ref) or self.provider.resource_for_ref(ref, environ)
        return resource if getattr(resource, "node", None) is not None else None

    def _as_dict(self, lock, owners: dict[str, str] | None = None) -> dict | None:
        node = lock.node
        if getattr(node, "path_names", None) is None:
            try:
                attach_path(node)
            except PortalError:  # the node is in the trash: its locks no longer guard a URL
                return None
        if owners is None:
            owners = dict(LockOwner.objects.filter(token=lock.token).values_list("token", "owner_xml"))
        owner = owners.get(lock.token)
        return {
            "root": node_ref(node.space, node.path_names, folder=node.is_folder).rstrip("/") or "/",
            "type": "write",
            "scope": lock.scope,
            "depth": lock.depth,
            "owner": owner.encode("utf-8") if owner else owner_xml_for(lock),
            "timeout": float(lock.timeout_seconds),
            "expire": lock.expires_at.timestamp(),
            "principal": lock.owner.get_username(),
            "token": lock.token,
        }

    def _dicts(self, locks) -> list[dict]:
        if not locks:
            return []
        owners = dict(LockOwner.objects.filter(token__in=[lock.token for lock in locks])
                      .values_list("token", "owner_xml"))
        found = (self._as_dict(lock, owners) for lock in locks)
        return [lock for lock in found if lock is not None]

    # --- the storage interface ------------------------------------------------------------

    def get(self, token):
        from portal.locks.selectors import lock_by_token

        lock = lock_by_token(token)
        if lock is None:
            return None
        lock.node.space  # noqa: B018 - loaded once, for the lock's URL
        return self._as_dict(lock)

    def create(self, path, lock):
        """Take the lock in Coffer's table; fill in wsgidav's dict (token, root, timeout, expiry)."""
        from portal.locks.services import lock_acquire

        environ = self._environ()
        resource = self._resource(path)
        if resource is None:
            raise DAVError(HTTP_LOCKED)  # wsgidav made the resource a moment ago: only a race gets here
        owner_xml = lock.get("owner") or b""
        timeout = lock.get("timeout")
        try:
            made = lock_acquire(actor=environ[USER_KEY], node=resource.node, kind="editor",
                                timeout=None if timeout is None or timeout < 0 else int(timeout),
                                note=_owner_text(owner_xml)[:500] if owner_xml else "",
                                client=environ.get("HTTP_USER_AGENT", "")[:255], scope=lock["scope"],
                                depth=lock["depth"])
        except Conflict as exc:
            if exc.code != "locked":
                raise as_dav_error(exc) from exc
            condition = DAVErrorCondition(PRECONDITION_CODE_LockConflict)
            condition.add_href(resource.get_href())
            raise DAVError(HTTP_LOCKED, context_info=exc.message, err_condition=condition) from exc
        except PortalError as exc:
            raise as_dav_error(exc) from exc
        lock_owner_remember(token=made.token, owner_xml=owner_xml.decode("utf-8") if owner_xml else "")
        lock.update(root=normalize_lock_root(resource.get_ref_url()), token=made.token,
                    timeout=float(made.timeout_seconds), expire=made.expires_at.timestamp())
        return lock

    def refresh(self, token, *, timeout):
        from portal.locks.services import lock_refresh

        try:
            lock_refresh(actor=self._environ()[USER_KEY], token=token,
                         timeout=None if timeout is None or timeout < 0 else int(timeout))
        except PortalError as exc:
            raise as_dav_error(exc) from exc
        return self.get(token)

    def delete(self, token):
        from portal.locks.services import lock_release

        try:
            lock_release(actor=self._environ()[USER_KEY], token=token)
        except PortalError as exc:
            raise as_dav_error(exc) from exc
        lock_owner_forget(token=token)
        return True

    def get_lock_list(self, path, *, include_root, include_children, token_only):
        from portal.locks.selectors import live_locks_for, locks_within

        resource = self._resource(path)
        if resource is None:
            return []
        node = resource.node
        locks = []
        if include_root:
            rooted = resource.direct_locks  # prefetched with a listing, or None
            if rooted is None:
                rooted = [lock for lock in live_locks_for(node) if lock.node_id == node.pk]
            locks += rooted
            for lock in locks:
                lock.node = node
        if include_children:
            locks += locks_within(node)
        for lock in locks:
            lock.node.space = resource.space
        if token_only:
            return [lock.token for lock in locks]
        return self._dicts(locks)


class CofferLockManager(LockManager):
    """wsgidav's lock manager, asking first whether the user may change the
    resource at all: a viewer gets 403, never 423 from someone's lock (the
    same order as the portal's services: capability, then locks). wsgidav
    asks it before every write (PUT, DELETE, MOVE, COPY, PROPPATCH, MKCOL)
    and before a LOCK."""

    def _get_write_conflicts(self, url, depth, token_list, principal):
        self._require_write(url)
        return super()._get_write_conflicts(url, depth, token_list, principal)

    def _check_lock_permission(self, url, lock_type, lock_scope, lock_depth, token_list, principal):
        self._require_write(url)
        return super()._check_lock_permission(url, lock_type, lock_scope, lock_depth, token_list, principal)

    def _require_write(self, url: str) -> None:
        environ = self.storage._environ()
        ref = normalize_lock_root(url)
        resource = None
        while resource is None and ref not in ("", "/"):  # a new name: what it would be made in
            resource = self.storage._resource(ref)
            ref = ref.rstrip("/").rpartition("/")[0] or "/"
        space = getattr(resource, "space", None)
        if space is not None and not can(environ.get(USER_KEY), Cap.FILE_WRITE, space):
            raise DAVError(HTTP_FORBIDDEN, f"Only editors can change files in space {space.name!r}.")
