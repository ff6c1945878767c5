"""Where imports read from: an S3 bucket (any endpoint), a folder on this
machine (a local disk or a mounted NAS, only under PORTAL_IMPORT_ROOTS) and a
WebDAV server (Nextcloud, ownCloud, Seafile, rclone serve webdav...).

Each source lists ``Entry`` values (a "/"-separated path relative to the
source's root, size, modification time, ETag when the source has one) and
opens one for reading. Nothing here writes anything.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, unquote, urlsplit

import requests
from django.conf import settings
from django.utils.translation import gettext

from portal.core.errors import InvalidInput, PortalError, StorageUnavailable
from portal.files.names import MAX_DEPTH
from portal.imports.models import SourceKind


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the source's root, "/"-separated, no leading "/"
    size: int
    mtime: datetime | None
    etag: str = ""
    error: str = ""  # listed but cannot be imported (a symbolic link...): reported as failed


class Source:
    def entries(self) -> Iterator[Entry]:
        raise NotImplementedError

    def open(self, entry_path: str) -> BinaryIO:
        raise NotImplementedError

    def check(self) -> None:
        """Raise a PortalError saying what is wrong when the source cannot be listed."""
        for _ in self.entries():
            return


def _http_url(value: str, *, field: str) -> str:
    parts = urlsplit(value or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(gettext("%(field)s must be an http:// or https:// address.") % {"field": field},
                           code="invalid_source")
    if parts.username is not None or parts.password is not None:  # kept in clear, shown in pages and the audit log
        raise InvalidInput(gettext("%(field)s must not carry a user name or password; give them in their own "
                                   "fields (the password is sealed).") % {"field": field}, code="invalid_source")
    return value


# --- S3 ------------------------------------------------------------------------------
class S3Source(Source):
    """A bucket and prefix on any S3 endpoint. Reads go through the storage
    module's client (the only code that speaks boto3); keys are taken as they
    are, so names Coffer refuses reach the naming rules and are reported."""

    def __init__(self, *, endpoint: str, bucket: str, prefix: str = "", region: str = "us-east-1",
                 access_key: str = "", secret_key: str = "", max_connections: int = 16):
        from portal.storage import S3ObjectStore

        if endpoint:
            _http_url(endpoint, field=gettext("The S3 endpoint"))
        if not bucket:
            raise InvalidInput(gettext("Name the S3 bucket to import from."), code="invalid_source")
        self.prefix = prefix.lstrip("/")
        store = S3ObjectStore(endpoint, bucket, region or "us-east-1", access_key, secret_key, "path",
                              read_timeout=120, attempts=3)
        # One connection per transfer thread (botocore keeps 10 by default, and warns past them).
        store._config.max_pool_connections = max_connections
        self._store, self.bucket = store, bucket

    def entries(self) -> Iterator[Entry]:
        pages = self._store.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"]
                path = key[len(self.prefix):].lstrip("/")
                if path and not key.endswith("/"):  # a trailing "/": a "folder" marker some tools write
                    yield Entry(path=path, size=item["Size"], mtime=item["LastModified"],
                                etag=item.get("ETag", "").strip('"'))

    def open(self, entry_path: str) -> BinaryIO:
        joint = "/" if self.prefix and not self.prefix.endswith("/") else ""
        try:
            return _SourceStream(self._store.open_foreign(self.prefix + joint + entry_path))
        except StorageUnavailable as exc:  # the source's trouble, this file's failure: Coffer's store is fine
            raise PortalError(exc.message, code="source_file_unreadable") from exc

    def check(self) -> None:
        try:
            self._store.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
        except Exception as exc:  # botocore's many error types; the message says what the endpoint said
            raise InvalidInput(gettext("The bucket %(bucket)s cannot be listed: %(error)s")
                               % {"bucket": self.bucket, "error": exc}, code="source_unreachable") from exc


class _SourceStream:
    """A source object's bytes; a source that stops answering mid-file fails that file, not the run
    (StorageUnavailable would mean Coffer's own store is down)."""

    def __init__(self, stream):
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except StorageUnavailable as exc:
            raise PortalError(exc.message, code="source_file_unreadable") from exc

    def close(self) -> None:
        self._stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


# --- A folder on this machine ---------------------------------------------------------
def allowed_folder(path: str) -> Path:
    """``path`` resolved, if it lies inside one of PORTAL_IMPORT_ROOTS (also
    resolved: a symbolic link cannot lead out of a root)."""
    if not path or not os.path.isabs(path):
        raise InvalidInput(gettext("Give the folder as an absolute path."), code="invalid_source")
    resolved = Path(os.path.realpath(path))
    for root in settings.IMPORT_ROOTS:
        real_root = Path(os.path.realpath(root))
        if resolved == real_root or real_root in resolved.parents:
            if not resolved.is_dir():
                raise InvalidInput(gettext("%(path)s is not a folder.") % {"path": path}, code="invalid_source")
            return resolved
    raise InvalidInput(gettext("%(path)s is outside the folders imports may read (PORTAL_IMPORT_ROOTS).")
                       % {"path": path}, code="folder_not_allowed")


def _mtime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime_ns // 1000 / 1_000_000, tz=dt_timezone.utc)


class FolderSource(Source):
    """Never follows a symbolic link: links are listed as failed, and every
    open re-checks that the file is still inside the root."""

    def __init__(self, *, path: str):
        self.root = allowed_folder(path)

    def entries(self) -> Iterator[Entry]:
        stack = [""]
        while stack:
            relative = stack.pop()
            # Listed through a descriptor opened without following links: a folder swapped for a link
            # after its parent was listed shows nothing outside the root, not even names.
            parts = self.root.parts[1:] + (tuple(relative.split("/")) if relative else ())
            try:
                folder_fd = _open_beneath(parts, relative or "/", directory=True)
            except InvalidInput as refused:   # a folder that became a link since its parent was listed
                if not relative:
                    raise
                yield Entry(path=relative, size=0, mtime=None, error=refused.message)
                continue
            try:
                with os.scandir(folder_fd) as listing:
                    found = sorted((item.name, item.stat(follow_symlinks=False)) for item in listing)
            finally:
                os.close(folder_fd)
            for name, st in found:
                path = f"{relative}/{name}" if relative else name
                if stat.S_ISLNK(st.st_mode):
                    yield Entry(path=path, size=0, mtime=_mtime(st),
                                error=gettext("a symbolic link; imports do not follow links"))
                elif stat.S_ISDIR(st.st_mode):
                    stack.append(path)
                elif stat.S_ISREG(st.st_mode):
                    yield Entry(path=path, size=st.st_size, mtime=_mtime(st))

    def open(self, entry_path: str) -> BinaryIO:
        # Walked one name at a time from "/", none of them followed if it is a link: a folder swapped
        # for a link after any check (even a moment before this open) leads nowhere. Non-blocking, so
        # a FIFO put in a file's place cannot hang the run; only a regular file is read.
        fd = _open_beneath(self.root.parts[1:] + tuple(entry_path.split("/")), entry_path)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise InvalidInput(gettext("%(path)s is no longer a regular file; not read.") % {"path": entry_path},
                               code="not_a_file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=1024 * 1024)


def _open_beneath(parts: tuple[str, ...], entry_path: str, *, directory: bool = False) -> int:
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidInput(gettext("%(path)s is not a plain path.") % {"path": entry_path}, code="invalid_path")
    nofollow = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    if not parts:
        return fd
    try:
        for part in parts[:-1]:
            inner = os.open(part, nofollow | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        return os.open(parts[-1], nofollow | (os.O_DIRECTORY if directory else 0), dir_fd=fd)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        raise InvalidInput(gettext("%(path)s now leads through a symbolic link; not followed.")
                           % {"path": entry_path}, code="symlink") from exc
    finally:
        os.close(fd)


# --- WebDAV --------------------------------------------------------------------------
_DAV = "{DAV:}"
_PROPFIND = (b'<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop>'
             b'<d:resourcetype/><d:getcontentlength/><d:getlastmodified/><d:getetag/></d:prop></d:propfind>')


# One folder's PROPFIND answer (about half a kilobyte per entry: some 250,000 entries).
PROPFIND_MAX_BYTES = 128 * 1024 * 1024


class WebDavSource(Source):
    """A folder on a WebDAV server, listed with PROPFIND (Depth: 1, folder by
    folder, which every server allows) and read with GET."""

    def __init__(self, *, url: str, username: str = "", password: str = ""):
        self.url = _http_url(url, field=gettext("The WebDAV address")).rstrip("/") + "/"
        self.base_path = unquote(urlsplit(self.url).path)
        self._auth = (username, password) if username else None
        self._local = threading.local()

    @property
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.auth = self._auth
        return session

    def _url_of(self, relative: str) -> str:
        return self.url + quote(relative)

    def _propfind(self, relative: str) -> list[tuple[str, Entry | None]]:
        try:
            answer = self._session.request("PROPFIND", self._url_of(relative), data=_PROPFIND, timeout=60,
                                           headers={"Depth": "1", "Content-Type": "application/xml"}, stream=True)
            with answer:
                body = answer.raw.read(PROPFIND_MAX_BYTES + 1, decode_content=True)
        except (requests.RequestException, OSError) as exc:
            raise StorageUnavailable(gettext("The WebDAV server does not answer: %(error)s") % {"error": exc}) from exc
        if len(body) > PROPFIND_MAX_BYTES:   # read no further: a hostile server could send gigabytes
            raise StorageUnavailable(gettext("The WebDAV server's listing of %(path)s is larger than %(size)s "
                                             "MiB.") % {"path": "/" + relative, "size": PROPFIND_MAX_BYTES >> 20})
        if answer.status_code in (401, 403):
            raise InvalidInput(gettext("The WebDAV server refused the user name or password (HTTP %(status)s).")
                               % {"status": answer.status_code}, code="source_refused")
        if answer.status_code != 207:
            raise StorageUnavailable(gettext("The WebDAV server answered HTTP %(status)s to a listing of %(path)s.")
                                     % {"status": answer.status_code, "path": "/" + relative})
        return [item for item in map(self._parse, ET.fromstring(body).iter(_DAV + "response")) if item]

    def _parse(self, response) -> tuple[str, Entry | None] | None:
        path = unquote(urlsplit(response.findtext(_DAV + "href", "")).path)
        if not path.startswith(self.base_path):
            return None
        relative = path[len(self.base_path):].strip("/")
        prop = response.find(f"{_DAV}propstat/{_DAV}prop")
        # "..", "." or "//" in a hostile server's href would lead out of the base folder (or round in circles).
        if not relative or prop is None or any(part in ("", ".", "..") for part in relative.split("/")):
            return None
        if prop.find(f"{_DAV}resourcetype/{_DAV}collection") is not None:
            return relative, None
        modified = prop.findtext(_DAV + "getlastmodified")
        return relative, Entry(path=relative, size=int(prop.findtext(_DAV + "getcontentlength") or 0),
                               mtime=parsedate_to_datetime(modified) if modified else None,
                               etag=(prop.findtext(_DAV + "getetag") or "").strip('"'))

    def entries(self) -> Iterator[Entry]:
        stack = [""]
        while stack:
            folder = stack.pop()
            below = folder + "/" if folder else ""
            for relative, entry in sorted(self._propfind(below), key=lambda i: i[0]):
                # Only what lies below the folder listed: a server naming an ancestor or a sibling
                # folder again cannot keep a run listing forever.
                if not relative.startswith(below) or relative == folder:
                    continue
                if entry is None:
                    if relative.count("/") < MAX_DEPTH:   # deeper could never be a path in Coffer
                        stack.append(relative)
                else:
                    yield entry

    def open(self, entry_path: str) -> BinaryIO:
        answer = self._session.get(self._url_of(entry_path), stream=True, timeout=120)
        if answer.status_code != 200:
            answer.close()
            raise PortalError(gettext("The WebDAV server answered HTTP %(status)s for this file.")
                              % {"status": answer.status_code}, code="source_file_unreadable")
        answer.raw.decode_content = True
        return answer.raw


def source_for(kind: str, settings_: dict, secret: str = "", *, concurrency: int = 4) -> Source:
    if kind == SourceKind.S3:
        return S3Source(endpoint=settings_.get("endpoint", ""), bucket=settings_.get("bucket", ""),
                        prefix=settings_.get("prefix", ""), region=settings_.get("region", ""),
                        access_key=settings_.get("access_key", ""), secret_key=secret,
                        max_connections=max(10, concurrency * 2))
    if kind == SourceKind.FOLDER:
        return FolderSource(path=settings_.get("path", ""))
    if kind == SourceKind.WEBDAV:
        return WebDavSource(url=settings_.get("url", ""), username=settings_.get("username", ""), password=secret)
    raise InvalidInput(gettext("Choose a source: s3, folder or webdav."), code="invalid_source")
