"""The embedded backend: objects are files under one root folder.

Every write goes to a temp file in the destination folder and is renamed into
place, so a reader sees the old object or the whole new one, never half of
either, and a crash leaves only ``.tmp-*`` files that no listing shows.
The portal serves the signed URLs this backend hands out (see views.py).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO

from django.conf import settings
from django.utils.translation import gettext

from portal.core.errors import InvalidInput, PreconditionFailed, StorageUnavailable
from portal.storage import local_slots, request_body, signing
from portal.storage.base import (
    CHUNK_SIZE, MAX_PART_SIZE, ObjectInfo, ObjectNotFound, ObjectStore, ObjectStream, Part,
    UploadNotFound, check_parts_complete, presign_lifetime, range_not_satisfiable, validate_key,
    validate_part_list, validate_part_number, validate_put_size, validate_window,
)

TEMP_PREFIX = ".tmp-"
MULTIPART_DIR = ".multipart"
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_PART_FILE = re.compile(r"^(\d{5})\.([0-9a-f]{32})\.part$")
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


@contextmanager
def _filesystem(action: str, *, missing: Exception | bool = True):
    """A failing disk is an unavailable store, not a bug in the caller. A
    vanished file raises ``missing`` instead, or is ignored when it is False."""
    try:
        yield
    except FileNotFoundError as exc:
        if isinstance(missing, Exception):
            raise missing from exc
        if missing:
            raise StorageUnavailable(gettext("The storage folder could not %(action)s: %(strerror)s.") % {"action": action, "strerror": exc.strerror}) from exc
    except OSError as exc:
        raise StorageUnavailable(gettext("The storage folder could not %(action)s: %(value)s.") % {"action": action, "value": exc.strerror or exc}) from exc


def _copy(source: BinaryIO, out: BinaryIO, *, digest=None, limit: int | None = None) -> int:
    written = 0
    while chunk := source.read(CHUNK_SIZE):
        written += len(chunk)
        if limit is not None and written > limit:
            raise InvalidInput(gettext("A part may be at most %(limit)s bytes.") % {"limit": limit}, code="part_too_large")
        if digest is not None:
            digest.update(chunk)
        with _filesystem("write"):
            out.write(chunk)
    return written


def _receive(source: BinaryIO, fd: int, offset: int = 0, *, limit: int, direct_fd: int | None = None) -> int:
    """Write a request body (or any readable) to ``fd`` at ``offset``: from
    the client's socket under gunicorn, read in chunks otherwise (see
    request_body.py); the count written, short when the client stopped early."""
    try:
        return request_body.write_at(source, fd, offset, limit=limit, direct_fd=direct_fd)
    except request_body.TooLong:
        raise InvalidInput(gettext("A part may be at most %(limit)s bytes.") % {"limit": limit}, code="part_too_large") from None
    except request_body.WriteFailed as exc:
        raise StorageUnavailable(gettext("The storage folder could not write: %(exc)s.") % {"exc": exc}) from exc


def _link_new(name: str, target: Path) -> None:
    """Give the finished temp file ``name`` the name ``target`` only if no
    object has it (link(2) never replaces, unlike rename), then drop ``name``."""
    try:
        os.link(name, target, follow_symlinks=False)
    except FileExistsError:
        raise PreconditionFailed(gettext("That object exists already; this URL only creates it."),
                                 code="object_exists") from None
    except OSError as exc:
        raise StorageUnavailable(gettext("The storage folder could not create the object: %(value)s.") % {"value": exc.strerror or exc}) from exc
    Path(name).unlink(missing_ok=True)


def _copy_file(source: BinaryIO, out: BinaryIO) -> int:
    """Append a whole file inside the kernel (copy_file_range: no trip through
    Python, and a reflink where the filesystem can); by reading where the
    kernel or filesystem cannot."""
    size = os.fstat(source.fileno()).st_size
    out.flush()
    copied = 0
    try:
        while copied < size:
            step = os.copy_file_range(source.fileno(), out.fileno(), size - copied)
            if step == 0:
                break
            copied += step
    except (AttributeError, OSError):
        pass  # finish below by reading
    out.seek(0, os.SEEK_END)
    source.seek(copied)
    return copied + _copy(source, out)


def _part_name(part: Part) -> str:
    md5 = part.etag.strip('"')
    return f"{part.number:05d}.{md5}.part"


def _etag(st: os.stat_result) -> str:
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"'


def _modified(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime, tz=timezone.utc)


class LocalObjectStore(ObjectStore):
    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self._uploads = self.root / MULTIPART_DIR

    def __repr__(self) -> str:
        return f"LocalObjectStore({str(self.root)!r})"

    # --- paths and atomic writes -------------------------------------------------
    def _path(self, key: str) -> Path:
        path = self.root.joinpath(*validate_key(key).split("/"))
        # Keys cannot say "..", but a symlink inside the root could still lead out.
        if not os.path.realpath(path).startswith(str(self.root) + os.sep):
            raise InvalidInput(gettext("That key leads outside the storage folder."), code="invalid_key")
        return path

    def _parent_dir(self, path: Path) -> Path:
        if not self.root.is_dir():
            # Never recreate the root: a missing root is usually an unmounted disk.
            raise StorageUnavailable(gettext("The storage folder %(root)s is missing; is its disk mounted?") % {"root": self.root})
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise InvalidInput(gettext("An object already exists where this key needs a folder."),
                               code="key_conflict") from exc
        return path.parent

    def _write_atomically(self, target: Path, write: Callable[[BinaryIO], int], *, create_only: bool = False) -> int:
        with _filesystem("create a temp file"):
            fd, name = tempfile.mkstemp(dir=self._parent_dir(target), prefix=TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as out:
                size = write(out)
                with _filesystem("flush to disk"):
                    out.flush()
                    os.fsync(out.fileno())
            if create_only:
                _link_new(name, target)
            else:
                with _filesystem("move the new object into place"):
                    os.replace(name, target)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return size

    def _sync_folders(self, target: Path, *, made: bool) -> None:
        """fsync ``target``'s folder, so the rename that put it in place
        survives a crash too (a completed upload is durable by name, not only
        by bytes); with ``made`` (its folder was just created), every folder
        up to the root, whose new entries are as fragile."""
        folder = target.parent
        while True:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            if not made or folder == self.root or folder == folder.parent:
                return
            folder = folder.parent

    # --- objects ---------------------------------------------------------------------
    def put(self, key: str, fileobj: BinaryIO, *, content_type: str | None = None) -> int:
        # The embedded store keeps no metadata: the content type travels in signed URLs.
        return self._write_atomically(self._path(key), lambda out: _copy(fileobj, out))

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> ObjectStream:
        validate_window(start, end)
        path = self._path(key)
        try:
            raw = open(path, "rb", buffering=0)
        except _MISSING as exc:
            raise ObjectNotFound(gettext("No object %(key)r.") % {"key": key}) from exc
        st = os.fstat(raw.fileno())
        if start >= st.st_size and (start or end is not None):
            raw.close()
            raise range_not_satisfiable(key, start, st.st_size)
        last = st.st_size - 1 if end is None else min(end, st.st_size - 1)
        raw.seek(start)
        return ObjectStream(raw, length=max(last - start + 1, 0), total_size=st.st_size,
                            etag=_etag(st), modified=_modified(st), errors=(OSError,))

    def stat(self, key: str) -> ObjectInfo:
        try:
            st = self._path(key).stat()
        except _MISSING:
            st = None
        if st is None or not S_ISREG(st.st_mode):  # a folder holds other keys; it is no object
            raise ObjectNotFound(gettext("No object %(key)r.") % {"key": key})
        return ObjectInfo(key=key, size=st.st_size, modified=_modified(st))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except _MISSING:  # IsADirectoryError: a folder of other keys, not an object
            pass
        except OSError as exc:
            raise StorageUnavailable(gettext("Could not delete %(key)r: %(strerror)s.") % {"key": key, "strerror": exc.strerror}) from exc

    def copy(self, source: str, target: str) -> int:
        # Every write here replaces a key's file by renaming a new one into
        # place, never rewriting it, so a hard link is a copy no later write to
        # ``source`` can reach, made without copying a byte.
        origin, path = self._path(source), self._path(target)
        with _filesystem("create a temp file"):
            fd, name = tempfile.mkstemp(dir=self._parent_dir(path), prefix=TEMP_PREFIX)
            os.close(fd)
            os.unlink(name)
        try:
            try:
                os.link(origin, name, follow_symlinks=False)
            except _MISSING as exc:
                raise ObjectNotFound(gettext("No object %(source)r.") % {"source": source}) from exc
            except OSError:  # a filesystem without hard links: copy the bytes
                with open(origin, "rb") as src, open(name, "xb") as out:
                    _copy_file(src, out)
                    os.fsync(out.fileno())
            with _filesystem("move the copy into place"):
                os.replace(name, path)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return path.stat().st_size

    def presign_get(self, key: str, *, filename: str, content_type: str = "application/octet-stream",
                    inline: bool = False, expires: int | None = None) -> str:
        grant = {"k": validate_key(key), "f": filename, "t": content_type, "i": bool(inline)}
        token = signing.issue(signing.GET, grant, presign_lifetime(expires))
        return f"{settings.PUBLIC_URL}/storage/o/{token}"

    def presign_put(self, key: str, *, size: int, expires: int | None = None, create_only: bool = False) -> str:
        grant = {"k": validate_key(key), "s": validate_put_size(size)}
        if create_only:
            grant["c"] = 1
        token = signing.issue(signing.PUT, grant, presign_lifetime(expires))
        return f"{settings.PUBLIC_URL}/storage/put/{token}"

    def put_exact(self, key: str, fileobj: BinaryIO, *, size: int, create_only: bool = False) -> int:
        """Store exactly ``size`` bytes from ``fileobj`` (what a signed PUT URL's
        view calls): a body shorter or longer than promised stores nothing.
        ``create_only``: PreconditionFailed, and nothing changes, when ``key`` exists."""
        def write(out: BinaryIO) -> int:
            written = _receive(fileobj, out.fileno(), limit=size)
            if written != size:
                raise InvalidInput(gettext("The body arrived with %(written)s of %(size)s bytes; send it again.") % {"written": written, "size": size},
                                   code="incomplete_body")
            return written

        try:
            return self._write_atomically(self._path(key), write, create_only=create_only)
        except InvalidInput as exc:
            if exc.code == "part_too_large":
                raise InvalidInput(gettext("The body is longer than the %(size)s bytes this URL accepts.") % {"size": size},
                                   code="size_mismatch") from None
            raise

    def iter_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        folder, _, _ = prefix.rpartition("/")
        start = self._path(folder) if folder else self.root
        yield from self._walk(start, f"{folder}/" if folder else "", prefix)

    def _walk(self, directory: Path, key_prefix: str, prefix: str) -> Iterator[ObjectInfo]:
        try:
            entries = list(os.scandir(directory))
        except _MISSING:
            return
        entries.sort(key=lambda entry: entry.name)  # stable listings make sweeps reproducible
        for entry in entries:
            key = key_prefix + entry.name
            if entry.name.startswith("."):  # temp files, .multipart
                continue
            if entry.is_dir(follow_symlinks=False):
                if (key + "/").startswith(prefix) or prefix.startswith(key + "/"):
                    yield from self._walk(Path(entry.path), key + "/", prefix)
            elif entry.is_file(follow_symlinks=False) and key.startswith(prefix):
                st = entry.stat(follow_symlinks=False)
                yield ObjectInfo(key=key, size=st.st_size, modified=_modified(st))

    def check(self) -> None:
        with _filesystem(f"accept a write in {self.root}"):
            fd, name = tempfile.mkstemp(dir=self.root, prefix=TEMP_PREFIX)
            os.close(fd)
            os.unlink(name)

    def ensure_bucket(self) -> None:
        with _filesystem(f"create {self.root}"):
            self._uploads.mkdir(parents=True, exist_ok=True)

    # --- multipart ---------------------------------------------------------------------
    def _upload_dir(self, key: str, upload_id: str) -> Path:
        validate_key(key)
        missing = UploadNotFound(gettext("That upload does not exist (finished, aborted or never started)."))
        if not isinstance(upload_id, str) or not _UPLOAD_ID.match(upload_id):
            raise missing
        folder = self._uploads / upload_id
        try:
            owner = (folder / "key").read_text("utf-8")
        except _MISSING:
            raise missing from None
        if owner != key:
            raise missing
        return folder

    def multipart_start(self, key: str, *, content_type: str | None = None, part_size: int | None = None) -> str:
        validate_key(key)
        upload_id = secrets.token_urlsafe(24)
        folder = self._uploads / upload_id
        with _filesystem("start an upload"):
            self._parent_dir(folder)
            folder.mkdir()
            if part_size:
                local_slots.start(folder, part_size)
            self._write_atomically(folder / "key", lambda out: out.write(key.encode("utf-8")))
        return upload_id

    def multipart_part_url(self, key: str, upload_id: str, part_number: int, *,
                           expires: int | None = None) -> str:
        grant = {"k": validate_key(key), "u": upload_id, "n": validate_part_number(part_number)}
        token = signing.issue(signing.PART, grant, presign_lifetime(expires))
        return f"{settings.PUBLIC_URL}/storage/part/{token}"

    def multipart_put_part(self, key: str, upload_id: str, part_number: int, fileobj: BinaryIO, *,
                           size: int | None = None) -> str:
        """Store one part (what the part URL's view calls); its ETag. The ETag
        names this upload of the part (random, not an MD5: hashing every byte
        here would halve upload speed, and a SHA-256 of the whole file is
        computed later anyway). With ``size``, a body that ends early is
        refused instead of stored short."""
        folder = self._upload_dir(key, upload_id)
        validate_part_number(part_number)
        if size is not None and size > MAX_PART_SIZE:
            raise InvalidInput(gettext("A part may be at most %(MAX_PART_SIZE)s bytes.") % {"MAX_PART_SIZE": MAX_PART_SIZE}, code="part_too_large")
        if part_size := local_slots.slot_size(folder):
            with _filesystem("store a part", missing=UploadNotFound(gettext("The upload was finished or aborted "
                                                                    "while this part arrived."))):
                return local_slots.put(folder, part_number, fileobj, size=size, part_size=part_size,
                                       receive=_receive)
        tag = secrets.token_hex(16)
        with _filesystem("create a temp file", missing=UploadNotFound(gettext("The upload was finished or "
                                                                      "aborted while this part arrived."))):
            fd, name = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as out:
                written = _receive(fileobj, out.fileno(), limit=MAX_PART_SIZE)
                if size is not None and written != size:
                    raise InvalidInput(gettext("The part arrived with %(written)s of %(size)s bytes; send it again.") % {"written": written, "size": size},
                                       code="incomplete_body")
                with _filesystem("flush a part to disk"):
                    os.fsync(out.fileno())
            final = folder / _part_name(Part(part_number, written, tag))
            with _filesystem("store a part"):
                os.replace(name, final)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        for older in folder.glob(f"{part_number:05d}.*.part"):
            if older != final:  # a re-sent part replaces the earlier one
                older.unlink(missing_ok=True)
        return f'"{tag}"'

    def multipart_list_parts(self, key: str, upload_id: str) -> list[Part]:
        newest: dict[int, tuple[int, Part]] = {}
        folder = self._upload_dir(key, upload_id)
        gone = UploadNotFound(gettext("The upload was just finished or aborted."))
        with _filesystem("list the parts", missing=gone):
            entries = list(os.scandir(folder))
        for mtime, part in local_slots.listed(entries):
            if part.number not in newest or newest[part.number][0] < mtime:
                newest[part.number] = (mtime, part)
        for entry in entries:
            if not (match := _PART_FILE.match(entry.name)):
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:  # replaced by a re-sent part just now
                continue
            part = Part(number=int(match[1]), size=st.st_size, etag=f'"{match[2]}"')
            # Two files for one number only while a re-sent part replaces the old one.
            if part.number not in newest or newest[part.number][0] < st.st_mtime_ns:
                newest[part.number] = (st.st_mtime_ns, part)
        return [part for _, part in sorted(newest.values(), key=lambda item: item[1].number)]

    def multipart_complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> int:
        wanted = validate_part_list(parts)
        folder = self._upload_dir(key, upload_id)
        have = self.multipart_list_parts(key, upload_id)
        check_parts_complete(wanted, have)
        if part_size := local_slots.slot_size(folder):
            chosen = {number for number, _ in wanted}
            with _filesystem("finish the upload", missing=UploadNotFound(gettext("The upload was just finished."))):
                target = self._path(key)
                made = not target.parent.is_dir()
                self._parent_dir(target)
                size = local_slots.assemble(folder, target, [p for p in have if p.number in chosen], part_size)
                self._sync_folders(target, made=made)
            shutil.rmtree(folder, ignore_errors=True)
            return size
        # Paths come from the listing, never from the caller's ETags.
        numbers = {number for number, _ in wanted}
        files = [folder / _part_name(part) for part in have if part.number in numbers]

        def concatenate(out: BinaryIO) -> int:
            total = 0
            for path in files:
                try:
                    with open(path, "rb") as part:
                        total += _copy_file(part, out)
                except FileNotFoundError:
                    raise InvalidInput(gettext("A part was replaced or the upload aborted while finishing; "
                                       "list the parts and try again."), code="invalid_part") from None
            return total

        target = self._path(key)
        made = not target.parent.is_dir()
        size = self._write_atomically(target, concatenate)
        with _filesystem("flush to disk"):
            self._sync_folders(target, made=made)
        shutil.rmtree(folder, ignore_errors=True)  # the object is in place; leftovers are only clutter
        return size

    def multipart_abort(self, key: str, upload_id: str) -> None:
        try:
            folder = self._upload_dir(key, upload_id)
        except UploadNotFound:
            return
        with _filesystem("remove the upload's parts", missing=False):  # a concurrent abort won
            shutil.rmtree(folder)
