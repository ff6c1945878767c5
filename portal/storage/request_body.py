"""A request body written into a file as cheaply as the WSGI server allows.

Read through WSGI, every byte of a part is copied four more times in Python
(gunicorn's socket reader, its body buffer and their slicing) while holding
the GIL: about 3.4 s of CPU per GiB on the part PUT path, against under 1 s
for ``cp``. Under gunicorn, for a plain HTTP/1.1 body with a Content-Length
that nobody has read yet, the bytes are instead received straight from the
client's socket into one page-aligned buffer (``recv_into``, the GIL released)
and written from there; nothing else reads the request. Everything else (the
test client, runserver, TLS terminated by gunicorn, HTTP/2, chunked bodies,
another server) is read in chunks through the request, as before.

With ``direct_fd`` (the same file opened with O_DIRECT), whole aligned blocks
bypass the page cache. Eight parts written at once through the page cache
into one file take turns on its inode lock for every write, and on a loaded
machine (a preempted holder stalls all the others) a GiB took 6 to 16 s of
part PUTs; written directly, a steady 2.7 to 5.3 s, near what the disk
takes. The price: those bytes are not left in the page cache, so the first
read after the upload (the hash task, a download) comes from the disk. The
unaligned tail of a part, and everything on a filesystem that refuses
O_DIRECT, goes through ``fd``. Neither way is durable by itself: the caller
still fsyncs.

The socket path keeps gunicorn's own bookkeeping exact (the body's remaining
length), so after an error gunicorn still drains or closes the connection as
it would have, and never reads the next request from the middle of a body.
"""

from __future__ import annotations

import errno
import mmap
import os
import socket
import ssl
from typing import BinaryIO

CHUNK_SIZE = 1024 * 1024
BUFFER_SIZE = 1024 * 1024
ALIGN = 4096  # O_DIRECT's alignment for offsets, lengths and memory; no disk asks for more


class TooLong(Exception):
    """The body is longer than the caller's limit."""


class WriteFailed(Exception):
    """Writing to the file failed (``__cause__`` says how): the disk's fault,
    not the client's, unlike an error reading the request."""


def write_at(source: BinaryIO, fd: int, offset: int, *, limit: int, direct_fd: int | None = None) -> int:
    """Write ``source`` (a Django request, or any readable) to ``fd`` at
    ``offset``, at most ``limit`` bytes; the count written, short when the
    client stopped sending. Raises TooLong past ``limit`` (nothing beyond it
    is written) and WriteFailed when the file cannot take the bytes."""
    found = _gunicorn_socket(source)
    if found is None:
        return _write_chunks(source, fd, offset, limit=limit)
    if found[2].length > limit:  # the reader's length counts what the parser read ahead, too
        raise TooLong(f"more than {limit} bytes")  # nothing taken yet: gunicorn drains or closes as usual
    body = _GunicornBody(*found)
    writer = _Writer(fd, direct_fd if offset % ALIGN == 0 else None)
    buffer = mmap.mmap(-1, BUFFER_SIZE)
    view = memoryview(buffer)
    try:
        written = 0
        while filled := body.fill(view):
            writer.write(view[:filled], offset + written)
            written += filled
        return written
    finally:
        view.release()
        try:
            buffer.close()
        except BufferError:  # a slice is still held by the exception on its way up; freed with it
            pass


def _write_chunks(source: BinaryIO, fd: int, offset: int, *, limit: int) -> int:
    written = 0
    while chunk := source.read(CHUNK_SIZE):
        if written + len(chunk) > limit:
            raise TooLong(f"more than {limit} bytes")
        _pwrite_all(fd, chunk, offset + written)
        written += len(chunk)
    return written


def _pwrite_all(fd: int, data, offset: int) -> None:
    view = memoryview(data)
    try:
        while view:
            done = os.pwrite(fd, view, offset)
            view, offset = view[done:], offset + done
    except OSError as exc:
        raise WriteFailed(exc.strerror or str(exc)) from exc


class _Writer:
    """Aligned blocks through ``direct`` (O_DIRECT) while it works, the rest through ``fd``."""

    def __init__(self, fd: int, direct: int | None):
        self.fd, self.direct = fd, direct

    def write(self, view: memoryview, offset: int) -> None:
        if self.direct is not None:
            aligned = len(view) - len(view) % ALIGN
            done = self._direct(view[:aligned], offset) if aligned else 0
            view, offset = view[done:], offset + done
        _pwrite_all(self.fd, view, offset)

    def _direct(self, view: memoryview, offset: int) -> int:
        done = 0
        try:
            while done < len(view):
                step = os.pwrite(self.direct, view[done:], offset + done)
                done += step
                if step % ALIGN:  # a short, unaligned write: the rest cannot go direct
                    self.direct = None
                    break
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise WriteFailed(exc.strerror or str(exc)) from exc
            self.direct = None  # this filesystem wants another alignment: write through the page cache
        return done


class _GunicornBody:
    """The untouched Content-Length body of a gunicorn request: the bytes its
    parser read past the headers, then the rest straight from the socket."""

    def __init__(self, sock: socket.socket, body, reader, unreader):
        self.sock, self.body, self.reader = sock, body, reader
        held = unreader.take_buffered()
        self.pending = memoryview(held[:reader.length])
        if len(held) > reader.length:  # a pipelined next request: it stays for gunicorn's parser
            unreader.unread(held[reader.length:])
        reader.length -= len(self.pending)

    def fill(self, view: memoryview) -> int:
        """Fill ``view`` as far as the body goes; the count (0 at its end)."""
        filled = 0
        if self.pending:
            filled = min(len(self.pending), len(view))
            view[:filled] = self.pending[:filled]
            self.pending = self.pending[filled:]
        while filled < len(view) and self.reader.length:
            try:
                got = self.sock.recv_into(view[filled:], min(len(view) - filled, self.reader.length))
            except (ConnectionError, TimeoutError):
                got = 0
            if not got:  # the client hung up or went quiet: a short body, and no next request
                self.body.failed = True
                self.reader.length = 0
                break
            self.reader.length -= got  # off the socket: gunicorn must not wait for these again
            filled += got
        return filled


def _gunicorn_socket(source) -> tuple | None:
    """(socket, body, reader, unreader): gunicorn's objects behind ``source``
    (a Django request) when its body can be read from the socket, else None. Every condition is checked, none
    assumed: a body someone has started to read, a TLS or HTTP/2 connection,
    a chunked body or any other server falls back to reading the request."""
    environ = getattr(source, "environ", None)
    stream = getattr(source, "_stream", None)
    if not environ or getattr(source, "_read_started", False) or getattr(stream, "_pos", None) != 0:
        return None
    try:
        from gunicorn.http.body import Body, LengthReader
        from gunicorn.http.unreader import SocketUnreader
    except ImportError:
        return None
    sock, body = environ.get("gunicorn.socket"), environ.get("wsgi.input")
    reader = getattr(body, "reader", None)
    unreader = getattr(reader, "unreader", None)
    if not (type(body) is Body and type(reader) is LengthReader and type(unreader) is SocketUnreader):
        return None
    if (type(sock) is not socket.socket or isinstance(sock, ssl.SSLSocket) or unreader.sock is not sock
            or body.buf.tell() or body.failed or getattr(stream, "limit", None) != reader.length
            or not hasattr(unreader, "take_buffered")):
        return None
    return sock, body, reader, unreader
