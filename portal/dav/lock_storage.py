"""wsgidav's lock storage, backed by Coffer's lock table.

wsgidav thinks of locks by URL; Coffer by node. Each call maps the URL to
the node the signed-in user sees there and asks portal.locks, so a lock taken
over WebDAV shows in the browser and blocks API uploads, and a lock taken in
the portal shows in lockdiscovery and makes WebDAV writes fail with 423.
WebDAV locks are kind "editor": writes need their token (If header).
"""

from __future__ import annotations

from urllib.parse import unquote

from django.utils import timezone
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
from portal.core.errors import Conflict, InvalidInput, PortalError
from portal.dav.auth import USER_KEY
from portal.dav.errors import as_dav_error
from portal.dav.request import (
    RESOURCES_KEY,
    ROOTED_LOCKS_KEY,
    current_environ,
    forget_locks,
    remember_lock_owners,
)
from portal.dav.resources import node_ref, owner_xml_for
from portal.files import names
from portal.files.selectors import path_names_of, path_walk, stored_names
from portal.files.services.dav_ops import dav_lock_acquire, dav_lock_release
from portal.locks.models import Lock
from portal.locks.selectors import live_locks_for, lock_by_token, locks_within
from portal.locks.services import lock_refresh


def _owner_text(owner_xml: bytes) -> str:
    """The words inside <owner> (a name, or an href), for the portal's lock note."""
    try:
        return " ".join("".join(xml_tools.string_to_xml(owner_xml).itertext()).split())
    except (xml_tools.etree.XMLSyntaxError, ValueError):  # a note is a nicety; the lock stands without one
        return ""


def _root_of(space, node) -> str | None:
    """A node's lock key (its canonical URL), or None when it is in the trash:
    its locks no longer guard a URL."""
    try:
        path_names = path_names_of(node)
    except PortalError:
        return None
    return node_ref(space, path_names, folder=node.is_folder).rstrip("/") or "/"


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

    def _as_dict(self, lock, root: str, owners: dict[str, str]) -> dict:
        """wsgidav's dict of a lock; ``root``: the lock's key (its node's URL)."""
        owner = owners.get(lock.token)
        return {
            "root": root,
            "type": "write",
            "scope": lock.scope,
            "depth": lock.depth,
            "owner": owner.encode("utf-8") if owner else owner_xml_for(lock),
            "timeout": float(lock.timeout_seconds),
            "expire": lock.expires_at.timestamp(),
            "principal": lock.owner.get_username(),
            "token": lock.token,
        }

    def _dicts(self, rooted: list[tuple]) -> list[dict]:
        """The dicts of (lock, root) pairs (their owner elements: at most one query)."""
        if not rooted:
            return []
        owners = remember_lock_owners(self._environ(), [lock.token for lock, _ in rooted])
        return [self._as_dict(lock, root, owners) for lock, root in rooted]

    def _rooted_at(self, ref: str) -> list[tuple]:
        """(lock, root) of the live locks rooted at ``ref``. wsgidav asks for
        a URL and then for each URL above it, one by one: the first question
        walks the whole path once, and the others are answered from that."""
        environ = self._environ()
        resource = environ.get(RESOURCES_KEY, {}).get(ref)
        if resource is not None and resource.direct_locks is not None:  # loaded with a listing
            root = normalize_lock_root(resource.get_ref_url())
            return [(lock, root) for lock in resource.direct_locks]
        known = environ.setdefault(ROOTED_LOCKS_KEY, {})
        if ref not in known:
            known.update(self._rooted_along(ref, environ))
        return known[ref]

    def _rooted_along(self, ref: str, environ: dict) -> dict[str, list[tuple]]:
        """The live locks rooted at ``ref`` and at each URL above it, by URL as
        asked (wsgidav's get_uri_parent of it): one walk, one lock query."""
        parts = [part for part in ref.split("/") if part]
        urls = ["/" + "/".join(parts[:depth + 1]) for depth in range(len(parts))]
        if not urls or urls[-1] != ref:  # the list of spaces, or a URL wsgidav does not walk this way
            return {ref: self._rooted_at_resource(ref)}
        access = self.provider.access_for_ref(ref, environ)
        if access is None:
            return {url: [] for url in urls}
        chain = self._walk(ref, parts, access, environ)
        if chain is None:
            return {ref: self._rooted_at_resource(ref)}
        stored = stored_names(chain)
        by_node = {node.pk: [] for node in chain}
        for lock in (Lock.objects.filter(node_id__in=list(by_node), expires_at__gt=timezone.now())
                     .select_related("owner").order_by("created_at", "id")):
            by_node[lock.node_id].append(lock)
        found = {url: [] for url in urls}  # below the last node found: nothing, so no locks
        for depth, node in enumerate(chain):
            root = node_ref(access.space, stored[:depth], folder=node.is_folder).rstrip("/") or "/"
            found[urls[depth]] = [(lock, root) for lock in by_node[node.pk]]
        return found

    def _walk(self, ref: str, parts: list[str], access, environ: dict):
        """The live nodes along ``ref`` from the space's root: the walk made
        when the request found the resource there, or a new one; None when
        the URL's names do not map one to one onto path names."""
        resource = environ.get(RESOURCES_KEY, {}).get(ref)
        if resource is not None and resource.chain is not None and len(resource.chain) == len(parts):
            return resource.chain
        wanted = [unquote(part) for part in parts[1:]]
        try:
            path_names = names.split_path("/" + "/".join(wanted), existing=True)
        except InvalidInput:
            return None
        return path_walk(access.space, path_names) if path_names == wanted else None

    def _rooted_at_resource(self, ref: str) -> list[tuple]:
        resource = self._resource(ref)
        if resource is None:
            return []
        direct = [lock for lock in live_locks_for(resource.node) if lock.node_id == resource.node.pk]
        root = normalize_lock_root(resource.get_ref_url())
        return [(lock, root) for lock in direct]

    # --- the storage interface ------------------------------------------------------------

    def get(self, token):
        lock = lock_by_token(token)
        if lock is None:
            return None
        root = _root_of(lock.node.space, lock.node)
        return self._dicts([(lock, root)])[0] if root is not None else None

    def create(self, path, lock):
        """Take the lock in Coffer's table; fill in wsgidav's dict (token, root, timeout, expiry)."""
        environ = self._environ()
        resource = self._resource(path)
        if resource is None:
            raise DAVError(HTTP_LOCKED)  # wsgidav made the resource a moment ago: only a race gets here
        owner_xml = lock.get("owner") or b""
        timeout = lock.get("timeout")
        try:
            made = dav_lock_acquire(actor=environ[USER_KEY], target=resource.located,
                                    owner_xml=owner_xml.decode("utf-8") if owner_xml else "",
                                    note=_owner_text(owner_xml)[:500] if owner_xml else "",
                                    client=environ.get("HTTP_USER_AGENT", "")[:255],
                                    timeout=None if timeout is None or timeout < 0 else int(timeout),
                                    scope=lock["scope"], depth=lock["depth"])
        except Conflict as exc:
            if exc.code != "locked":
                raise as_dav_error(exc) from exc
            condition = DAVErrorCondition(PRECONDITION_CODE_LockConflict)
            condition.add_href(resource.get_href())
            raise DAVError(HTTP_LOCKED, context_info=exc.message, err_condition=condition) from exc
        except PortalError as exc:
            raise as_dav_error(exc) from exc
        forget_locks(environ)
        lock.update(root=normalize_lock_root(resource.get_ref_url()), token=made.token,
                    timeout=float(made.timeout_seconds), expire=made.expires_at.timestamp())
        return lock

    def refresh(self, token, *, timeout):
        try:
            lock_refresh(actor=self._environ()[USER_KEY], token=token,
                         timeout=None if timeout is None or timeout < 0 else int(timeout))
        except PortalError as exc:
            raise as_dav_error(exc) from exc
        forget_locks(self._environ())
        return self.get(token)

    def delete(self, token):
        try:
            dav_lock_release(actor=self._environ()[USER_KEY], token=token)
        except PortalError as exc:
            raise as_dav_error(exc) from exc
        forget_locks(self._environ())
        return True

    def get_lock_list(self, path, *, include_root, include_children, token_only):
        ref = normalize_lock_root(path)
        rooted = list(self._rooted_at(ref)) if include_root else []  # (lock, the URL it is rooted at)
        if include_children:
            resource = self._resource(ref)
            if resource is not None:
                within = ((lock, _root_of(resource.space, lock.node)) for lock in locks_within(resource.node))
                rooted += [(lock, root) for lock, root in within if root is not None]
        if token_only:
            return [lock.token for lock, _ in rooted]
        return self._dicts(rooted)


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
        # The space decides, whatever is (or is not yet) at the URL: a new
        # name is checked in the space it would be made in.
        access = self.storage.provider.access_for_ref(normalize_lock_root(url), self.storage._environ())
        if access is not None and not access.can(Cap.FILE_WRITE):
            raise DAVError(HTTP_FORBIDDEN, f"Only editors can change files in space {access.space.name!r}.")
