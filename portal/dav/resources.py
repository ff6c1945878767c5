"""WebDAV resources over Coffer's tree: the list of the user's spaces at
``/dav/``, a folder (a space's root at ``/dav/<slug>/``) and a file.

Reads go through portal.files.selectors; every change is one call to a
portal.files.services function with the request's lock tokens (WebDAV's
composite changes: portal.files.services.dav_ops), so WebDAV gets the same
access checks, quota, versions, locks and audit events as the API.

Each resource is built with what the request resolved once: the caller's
access to the space, the node as Located (its stored path) and, in a
listing, its dead properties and locks; nothing is stuck on model objects.
"""

from __future__ import annotations

import io
from urllib.parse import quote

from django.utils import timezone
from django.utils.html import escape
from wsgidav import util, xml_tools
from wsgidav.dav_error import HTTP_FORBIDDEN, HTTP_NOT_FOUND, DAVError
from wsgidav.dav_provider import DAVCollection, DAVNonCollection
from wsgidav.xml_tools import etree

from portal.dav.auth import USER_KEY
from portal.dav.errors import dav_errors
from portal.dav.models import DeadProperty
from portal.dav.request import RESOURCES_KEY, forget_resources, remember_lock_owners
from portal.dav.services import (
    property_check,
    property_remove,
    property_set,
)
from portal.dav.uploads import BodyReader, spooled_body
from portal.files import names
from portal.files.models import FileVersion, Node
from portal.files.selectors import Located, child_named, children_list, locate_in
from portal.files.services.dav_ops import dav_copy, dav_delete, dav_move
from portal.files.services.direct import file_put
from portal.files.services.downloads import (
    content_type_for,
    download_record,
    inline_allowed,
)
from portal.files.services.tree import folder_create
from portal.locks.models import Lock
from portal.scanning.selectors import ensure_not_quarantined
from portal.spaces.selectors import SpaceAccess, spaces_visible_to
from portal.lifecycle.reads import blob_readable
from portal.storage.tiers import Placement, placement_open
from portal.storage.base import content_disposition

_LOCK_PROPS = ("{DAV:}lockdiscovery", "{DAV:}supportedlock")


def actor_of(environ):
    return environ[USER_KEY]


def request_tokens(environ) -> tuple[str, ...]:
    """The lock tokens the request's If header names."""
    if "wsgidav.conditions.if" not in environ:
        util.parse_if_header_dict(environ)
    return tuple(environ.get("wsgidav.ifLockTokenList") or ())


def node_ref(space, path_names: list[str], *, folder: bool) -> str:
    """The canonical, quoted URL of a node below the mount (stored names,
    whatever case the client used): the key locks are found under."""
    url = "/" + space.slug + (names.join(path_names) if path_names else "")
    return quote(url + ("/" if folder else ""))


def wrap(path: str, environ, located: Located, access: SpaceAccess, **loaded):
    """The resource of a node the request found; ``loaded``: what a listing
    loaded for all its members at once (see _NodeResource)."""
    kind = FolderResource if located.node.is_folder else FileResource
    resource = kind(path, environ, access=access, located=located, **loaded)
    # Remembered for this request: the lock storage asks for locks by URL,
    # once per resource a PROPFIND lists.
    environ.setdefault(RESOURCES_KEY, {})[resource.get_ref_url().rstrip("/") or "/"] = resource
    return resource


def own_tokens_only(lockdiscovery, actor, known: dict[str, int] | None = None):
    """A lock's token is its owner's secret (with it, a write passes the lock):
    lockdiscovery (PROPFIND, and the LOCK answer) shows each lock to everyone
    but its locktoken only to its owner (RFC 4918 14.1: locktoken is optional).
    ``known``: token -> owner id of locks loaded already (a listing's)."""
    hrefs = lockdiscovery.iterfind("{DAV:}activelock/{DAV:}locktoken/{DAV:}href")
    held = {href.text: href.getparent() for href in hrefs}
    if not held:
        return lockdiscovery
    known = known or {}
    mine = {token for token in held if known.get(token) == actor.pk}
    unknown = [token for token in held if token not in known]
    if unknown:
        mine |= set(Lock.objects.filter(owner_id=actor.pk, token__in=unknown).values_list("token", flat=True))
    for token, element in held.items():
        if token not in mine:
            element.getparent().remove(element)
    return lockdiscovery


class _NodeResource:
    """What folders and files share: dates, dead properties, delete, copy and move.

    ``access``: the caller's access to the space; ``located``: the node with
    its stored path (None for a file its first PUT is about to make);
    ``direct_locks``: the live locks rooted at the node, when a listing
    loaded them (None: ask the lock table); ``chain``: the nodes from the
    space's root to this one, when the request walked them."""

    access: SpaceAccess
    located: Located | None

    def _setup(self, access: SpaceAccess, located: Located | None, *, path_names=None,
               dead: dict[str, str] | None = None, direct_locks: list | None = None,
               chain: list[Node] | None = None) -> None:
        self.access, self.located = access, located
        self.path_names = list(located.path_names) if located is not None else path_names
        self._dead = dead
        self.direct_locks, self.chain = direct_locks, chain

    @property
    def node(self) -> Node | None:
        return self.located.node if self.located is not None else None

    @property
    def space(self):
        return self.access.space

    @property
    def actor(self):
        return actor_of(self.environ)

    def get_ref_url(self):
        return node_ref(self.space, self.path_names, folder=self.is_collection)

    def get_creation_date(self):
        return self.node.created_at.timestamp()

    def get_last_modified(self):
        return self.node.modified_at.timestamp()

    def get_display_name(self):
        return self.node.name or self.space.name

    # --- dead properties --------------------------------------------------------

    def _dead_properties(self) -> dict[str, str]:
        if self._dead is None:
            self._dead = dict(DeadProperty.objects.filter(node_id=self.node.pk).values_list("name", "value"))
        return self._dead

    def get_property_names(self, *, is_allprop):
        return super().get_property_names(is_allprop=is_allprop) + list(self._dead_properties())

    def get_property_value(self, name):
        if name == "{DAV:}lockdiscovery":
            known = {lock.token: lock.owner_id for lock in self.direct_locks or ()}
            return own_tokens_only(super().get_property_value(name), self.actor, known)
        if name.startswith("{DAV:}") or name in _LOCK_PROPS:
            return super().get_property_value(name)
        value = self._dead_properties().get(name)
        if value is None:
            raise DAVError(HTTP_NOT_FOUND)
        try:
            return xml_tools.string_to_xml(value.encode("utf-8"))
        except etree.XMLSyntaxError:  # stored before bodies with entities were refused (portal.dav.xml_guard)
            raise DAVError(HTTP_NOT_FOUND) from None

    def set_property_value(self, name, value, *, dry_run=False):
        if name.startswith(("{DAV:}", "{urn:schemas-microsoft-com:}")):
            return super().set_property_value(name, value, dry_run=dry_run)
        text = None if value is None else etree.tostring(value, encoding="unicode")
        with dav_errors():
            if dry_run:
                property_check(actor=self.actor, node_id=self.node.pk, name=name, value=text)
            elif text is None:
                property_remove(actor=self.actor, node_id=self.node.pk, name=name)
            else:
                property_set(actor=self.actor, node_id=self.node.pk, name=name, value=text)
        self._dead = None

    # --- changes ------------------------------------------------------------------

    def _refuse_space_root(self, what: str) -> None:
        if self.node.is_root:
            raise DAVError(HTTP_FORBIDDEN, f"A space itself cannot be {what}; work with what it holds.")

    def delete(self):
        """To the trash (restorable in the portal), like the API's DELETE."""
        self._refuse_space_root("deleted")
        with dav_errors():
            dav_delete(actor=self.actor, target=self.located, lock_tokens=request_tokens(self.environ))
        forget_resources(self.environ)
        return []

    def handle_delete(self):
        return False  # wsgidav checks every member's locks first, then calls delete() once

    def handle_copy(self, dest_path, *, depth_infinity):
        return self._transfer(dest_path, move=False, shallow=self.is_collection and not depth_infinity)

    def handle_move(self, dest_path):
        return self._transfer(dest_path, move=True)

    def _transfer(self, dest_path: str, *, move: bool, shallow: bool = False) -> bool:
        """COPY or MOVE in one service call (the whole tree, with its quota and
        audit event). wsgidav has already checked Overwrite, the destination's
        parent and the locks on both sides; an existing destination goes to
        the trash first, in the same transaction."""
        self._refuse_space_root("copied or moved")
        provider, environ, tokens = self.provider, self.environ, request_tokens(self.environ)
        access, dest_names = provider.destination(dest_path, environ)
        existing = provider.get_resource_inst(dest_path.rstrip("/") or "/", environ)
        if existing is not None and not isinstance(existing, _NodeResource):
            raise DAVError(HTTP_FORBIDDEN, "The list of spaces cannot be replaced.")
        same_node = existing is not None and existing.node.pk == self.node.pk
        if same_node and not move:
            raise DAVError(HTTP_FORBIDDEN, "A resource cannot be copied onto itself.")
        replacing = existing.located if existing is not None and not same_node else None
        if replacing is not None:
            existing._refuse_space_root("replaced")
        where = {"space_id": access.space.pk, "path": names.join(dest_names)}
        with dav_errors():
            if move:
                dav_move(actor=self.actor, source=self.located, replacing=replacing, lock_tokens=tokens, **where)
            else:
                dav_copy(actor=self.actor, source=self.located, shallow=shallow, replacing=replacing,
                         lock_tokens=tokens, **where)
        forget_resources(environ)
        environ["coffer.dav.created"] = existing is None or same_node
        return True

    def copy_move_single(self, dest_path, *, is_move):
        raise DAVError(HTTP_FORBIDDEN)  # never reached: handle_copy / handle_move do the whole job

    def support_recursive_move(self, dest_path):
        return True

    def move_recursive(self, dest_path):
        raise DAVError(HTTP_FORBIDDEN)  # never reached, as above


class FolderResource(_NodeResource, DAVCollection):
    def __init__(self, path: str, environ: dict, *, access: SpaceAccess, located: Located, **loaded):
        super().__init__(path, environ)
        self._setup(access, located, **loaded)

    def _child(self, node: Node, **loaded):
        located = locate_in(self.access, node, [*self.path_names, node.name])
        chain = [*self.chain, node] if self.chain is not None else None
        return wrap(util.join_uri(self.path, node.name), self.environ, located, self.access, chain=chain, **loaded)

    def get_member_names(self):
        return [node.name for node in children_list(self.node)]

    def get_member(self, name):
        child = child_named(self.node, name)
        return self._child(child) if child is not None else None

    def get_member_list(self):
        children = list(children_list(self.node))
        dead: dict[int, dict[str, str]] = {child.pk: {} for child in children}
        rows = DeadProperty.objects.filter(node_id__in=list(dead)).values_list("node_id", "name", "value")
        for node_id, name, value in rows:  # one query for the whole listing
            dead[node_id][name] = value
        locks: dict[int, list] = {child.pk: [] for child in children}
        held = list(Lock.objects.filter(node_id__in=list(locks), expires_at__gt=timezone.now()).select_related("owner"))
        for lock in held:
            locks[lock.node_id].append(lock)
        if held:
            remember_lock_owners(self.environ, [lock.token for lock in held])
        return [self._child(child, dead=dead[child.pk], direct_locks=locks[child.pk]) for child in children]

    def get_used_bytes(self):
        return self.space.used_bytes

    def get_available_bytes(self):
        return max(self.space.quota_bytes - self.space.used_bytes, 0)

    def support_recursive_delete(self):
        return True

    def create_collection(self, name):
        with dav_errors():
            folder_create(actor=self.actor, space_id=self.space.pk, path=names.join(self.path_names + [name]))

    def create_empty_resource(self, name):
        """PUT of a new file: a file that exists only once its bytes are stored.
        LOCK of an unmapped URL (RFC 4918 7.3): an empty file, now."""
        pending = FileResource(util.join_uri(self.path, name), self.environ, access=self.access, located=None,
                               path_names=[*self.path_names, name])
        if self.environ["REQUEST_METHOD"] != "PUT":
            pending.store(io.BytesIO(b""), size=0)
        return pending


class FileResource(_NodeResource, DAVNonCollection):
    def __init__(self, path: str, environ: dict, *, access: SpaceAccess, located: Located | None,
                 path_names=None, **loaded):
        super().__init__(path, environ)
        if located is None:  # a new file, made by its first PUT: no properties of its own yet
            loaded["dead"] = {}
        self._setup(access, located, path_names=path_names, **loaded)

    def get_content_length(self):
        return self.node.size if self.node else 0

    def get_content_type(self):
        return content_type_for(self.path_names[-1])

    def get_etag(self):
        if self.node is None:
            return None
        return f"{self.node.pk}-{self.node.current_version_id or 0}"

    def support_etag(self):
        return True

    def support_ranges(self):
        return True

    def get_content(self):
        version_id = self.node.current_version_id
        if version_id is None:
            return io.BytesIO(b"")
        version = FileVersion.objects.select_related("blob").get(pk=version_id)
        with dav_errors():
            ensure_not_quarantined(version)  # the content scanner's verdict holds here as everywhere
            placement = blob_readable(version.blob, node=self.node, actor=self.actor)
        on_start = None
        if self.environ["REQUEST_METHOD"] == "GET":
            # Audited when the bytes sent begin at byte 0, whatever Range asked for.
            def on_start():
                located = Located(node=self.node, space=self.space, path_names=tuple(self.path_names))
                download_record(actor=self.actor, located=located, version=version)
        return StoredBytes(placement, on_start=on_start)

    def finalize_headers(self, environ, response_headers):
        """A browser may open a /dav/ URL too, on the portal's own origin: a
        stored HTML or SVG file must never run as the portal."""
        content_type = self.get_content_type()
        response_headers += [
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", "default-src 'none'; sandbox"),
            ("Content-Disposition", content_disposition(self.path_names[-1],
                                                        inline=inline_allowed(content_type))),
        ]

    def begin_write(self, *, content_type=None):
        return _PutSink(self)

    def end_write(self, *, with_errors):
        return None

    def store(self, fileobj, *, size: int) -> None:
        """Make ``fileobj`` (``size`` bytes) the file's next version (or its
        first): bytes to the store, then one transaction that checks quota
        and the locks (with the request's tokens). A refusal or a short body
        leaves the previous version current and nothing stored."""
        with dav_errors():
            version = file_put(actor=self.actor, space_id=self.space.pk, path=names.join(self.path_names),
                               fileobj=fileobj, size=size, lock_tokens=request_tokens(self.environ))
        self._setup(self.access, locate_in(self.access, version.node, self.path_names))

    def put_body(self, chunks) -> None:
        length = self.environ.get("CONTENT_LENGTH", "").strip()
        with dav_errors():
            if length:
                size = int(length)
                self.store(BodyReader(chunks, size), size=size)
            else:  # chunked: learn the size first, as quota and the store need it
                with spooled_body(chunks) as (body, size):
                    self.store(body, size=size)


class _PutSink:
    """What wsgidav's PUT writes the body into: it hands over the whole
    chunk iterator (writelines), which streams straight into the store."""

    def __init__(self, resource: FileResource):
        self.resource = resource

    def writelines(self, chunks) -> None:
        self.resource.put_body(chunks)

    def close(self) -> None:
        pass


class StoredBytes:
    """A version's bytes for wsgidav's GET: it seeks to a Range's start, then
    reads; the object is opened at that offset on the first read. A read
    that starts at byte 0 is a download: ``on_start`` records it before any
    byte leaves, so no Range (``bytes=0-``, suffixes, several ranges, a
    failed If-Range) is a way around the audit log."""

    def __init__(self, placement: Placement, *, on_start=None):
        self.placement, self.size, self.position, self._stream = placement, placement.size, 0, None
        self._on_start = on_start

    def seek(self, position: int) -> None:
        self.position = position

    def read(self, size: int = -1) -> bytes:
        if self._stream is None:
            if self.position == 0 and self._on_start is not None:
                self._on_start()
            if self.position >= self.size:
                return b""
            self._stream = placement_open(self.placement, start=self.position)
        return self._stream.read(size)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()


class RootResource(DAVCollection):
    """``/dav/``: one folder per space the user belongs to, by slug."""

    def __init__(self, environ: dict):
        super().__init__("/", environ)

    def get_display_name(self):
        return "Coffer"

    def get_member_names(self):
        return [space.slug for space in spaces_visible_to(actor_of(self.environ))]

    def get_member(self, name):
        return self.provider.get_resource_inst("/" + name, self.environ)

    def get_member_list(self):
        members = [self.provider.get_resource_inst("/" + space.slug, self.environ)
                   for space in spaces_visible_to(actor_of(self.environ))]
        return [member for member in members if member is not None]

    def get_property_names(self, *, is_allprop):
        return ["{DAV:}resourcetype", "{DAV:}displayname"]

    def set_property_value(self, name, value, *, dry_run=False):
        raise DAVError(HTTP_FORBIDDEN, "Properties are kept on files and folders, not on the list of spaces.")

    def prevent_locking(self):
        return True

    def create_collection(self, name):
        raise DAVError(HTTP_FORBIDDEN, "Spaces are created in the portal, not over WebDAV.")

    def create_empty_resource(self, name):
        raise DAVError(HTTP_FORBIDDEN, "Files live in spaces: put them in /dav/<space>/.")

    def support_recursive_delete(self):
        return False

    def delete(self):
        raise DAVError(HTTP_FORBIDDEN, "The list of spaces cannot be deleted.")

    def handle_delete(self):
        raise DAVError(HTTP_FORBIDDEN, "The list of spaces cannot be deleted.")

    def handle_copy(self, dest_path, *, depth_infinity):
        raise DAVError(HTTP_FORBIDDEN, "The list of spaces cannot be copied.")

    def handle_move(self, dest_path):
        raise DAVError(HTTP_FORBIDDEN, "The list of spaces cannot be moved.")


def owner_xml_for(lock) -> bytes:
    """An <owner> for a lock taken outside WebDAV (the portal, the agent):
    who holds it, and their note."""
    owner = lock.owner.get_full_name() or lock.owner.get_username()
    text = owner + (f" ({lock.client})" if lock.client else "") + (f": {lock.note}" if lock.note else "")
    return f'<D:owner xmlns:D="DAV:">{escape(text)}</D:owner>'.encode()

