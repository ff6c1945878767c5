"""Multipart uploads written in place, for the local store.

When the part size is known at the start (Coffer's own uploads), every part
is written straight into its slot of one staging file, at offset
``(number - 1) * part_size``. Completing is then an fsync and a rename instead
of copying every byte a second time. A part is listed only once all its bytes
are on disk (its marker file, named with its ETag and size, is written last),
so a dropped connection leaves a part missing, never a short one.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import BinaryIO
from django.utils.translation import gettext

from portal.core.errors import InvalidInput
from portal.storage.base import Part

DATA = "data"
# Parts this large bypass the page cache (request_body.py says why): a file
# big enough to send in such parts is rarely read again at once, while a
# small one (previews, scanning) is, and costs the cache little.
DIRECT_MIN_PART = 4 * 1024 * 1024
PART_SIZE = "part_size"
_SLOT_FILE = re.compile(r"^(\d{5})\.([0-9a-f]{32})\.(\d+)\.slot$")


def slot_size(folder: Path) -> int | None:
    """The upload's part size when it writes in place, else None."""
    try:
        return int((folder / PART_SIZE).read_text())
    except FileNotFoundError:
        return None


def start(folder: Path, part_size: int) -> None:
    (folder / DATA).touch()
    (folder / PART_SIZE).write_text(str(part_size))


def put(folder: Path, number: int, fileobj: BinaryIO, *, size: int | None, part_size: int,
        receive) -> str:
    """Write part ``number`` into its slot (``receive(fileobj, fd, offset,
    limit=...)`` writes the body); its ETag."""
    if size is not None and size > part_size:
        raise InvalidInput(gettext("Part %(number)s is %(size)s bytes; parts of this upload are at most %(part_size)s.") % {"number": number, "size": size, "part_size": part_size},
                           code="part_too_large", detail={"part": number})
    fd = os.open(folder / DATA, os.O_WRONLY | os.O_CLOEXEC)
    direct = _open_direct(folder / DATA) if (size or 0) >= DIRECT_MIN_PART else None
    try:
        written = receive(fileobj, fd, (number - 1) * part_size, limit=part_size, direct_fd=direct)
        if size is not None and written != size:
            raise InvalidInput(gettext("The part arrived with %(written)s of %(size)s bytes; send it again.") % {"written": written, "size": size},
                               code="incomplete_body")
        # Durable before it is listed: an acknowledged part survives a crash, as on S3.
        os.fsync(fd)
    finally:
        os.close(fd)
        if direct is not None:
            os.close(direct)
    tag = secrets.token_hex(16)
    (folder / f"{number:05d}.{tag}.{written}.slot").touch()
    for older in folder.glob(f"{number:05d}.*.slot"):
        if older.name != f"{number:05d}.{tag}.{written}.slot":  # a re-sent part replaces the earlier one
            older.unlink(missing_ok=True)
    return f'"{tag}"'


def _open_direct(path: Path) -> int | None:
    """The data file opened for writes that bypass the page cache (see
    request_body.py), or None where the filesystem refuses O_DIRECT (tmpfs
    before Linux 6.6, some FUSE and network filesystems)."""
    if not hasattr(os, "O_DIRECT"):
        return None
    try:
        return os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_DIRECT)
    except OSError:
        return None


def listed(entries) -> list[tuple[int, Part]]:
    """(mtime_ns, Part) for the slot markers among directory entries."""
    found = []
    for entry in entries:
        if match := _SLOT_FILE.match(entry.name):
            try:
                mtime = entry.stat().st_mtime_ns
            except FileNotFoundError:  # replaced by a re-sent part just now
                continue
            found.append((mtime, Part(number=int(match[1]), size=int(match[3]), etag=f'"{match[2]}"')))
    return found


def assemble(folder: Path, target: Path, parts: list[Part], part_size: int) -> int:
    """Move the staging file into place as the object made of ``parts``."""
    for index, part in enumerate(parts, start=1):
        if part.number != index or (index < len(parts) and part.size != part_size):
            raise InvalidInput(gettext("Parts must run 1, 2, 3… and all but the last must fill their slot."),
                               code="invalid_part", detail={"part": part.number})
    total = sum(part.size for part in parts)
    with open(folder / DATA, "r+b") as data:
        data.truncate(total)
        os.fsync(data.fileno())
    os.replace(folder / DATA, target)
    return total
