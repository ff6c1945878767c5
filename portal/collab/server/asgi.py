"""The ASGI application of the co-editing server.

    /coedit/ws/<file id>?ticket=...   the y-websocket endpoint (the editor's room name is the file id)
    /coedit/health                    200 "ok" once the server runs (for load balancers and tests)

Run with ``python -m portal.collab.server`` (uvicorn). The lifespan starts
the bus (Redis when ``PORTAL_REDIS_URL`` is set), the rooms and the
heartbeat that keeps this process's participants and their coedit locks
alive and re-checks every connection's access.
"""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

import logging  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from urllib.parse import parse_qs, urlsplit  # noqa: E402

import anyio  # noqa: E402
from django.conf import settings  # noqa: E402
from django.http.request import split_domain_port, validate_host  # noqa: E402

from portal.collab import access, services  # noqa: E402
from portal.collab.server import db  # noqa: E402
from portal.collab.server.bus import bus_for  # noqa: E402
from portal.collab.server.client import (BAD_TICKET, FILE_GONE, NO_ACCESS, START_OVER, TOO_MANY,  # noqa: E402
                                         Client)
from portal.collab.server.rooms import Registry  # noqa: E402
from portal.collab.tickets import InvalidTicket, ticket_read  # noqa: E402
from portal.core.errors import PortalError, Throttled  # noqa: E402

logger = logging.getLogger(__name__)

_ROOM_PATH = re.compile(r"/coedit/ws/(\d{1,18})")
PROCESS = f"{socket.gethostname()}:{os.getpid()}"


class Server:
    def __init__(self):
        self.registry: Registry | None = None

    # --- lifespan ------------------------------------------------------------------------
    async def lifespan(self, receive, send) -> None:
        await receive()  # lifespan.startup
        async with anyio.create_task_group() as group:
            bus = bus_for(settings.REDIS_URL)
            bus.on_recheck = self._recheck_space
            bus.on_resync = self._resync
            await group.start(bus.run)
            self.registry = Registry(bus)
            await group.start(self.registry.run)
            group.start_soon(self._heartbeat)
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
            group.cancel_scope.cancel()
        await send({"type": "lifespan.shutdown.complete"})

    async def _heartbeat(self) -> None:
        while True:
            await anyio.sleep(settings.COEDIT_HEARTBEAT_SECONDS)
            clients = list(self.registry.clients())
            try:
                gone = await db.call(services.heartbeat, participant_ids=[c.participant_id for c in clients])
            except Exception:
                logger.exception("co-editing heartbeat failed; trying again")
                continue
            for client in clients:
                if client.participant_id in gone:
                    await client.close(START_OVER)
                elif time.monotonic() - client.checked_at > settings.COEDIT_RECHECK_SECONDS:
                    self.registry.recheck_soon(client)  # idle connections too

    async def _resync(self) -> None:
        if self.registry is not None:
            await self.registry.resync()

    async def _recheck_space(self, space_id: int | None) -> None:
        """The portal says access changed in a space (None: anywhere): re-check those connections now."""
        for client in list(self.registry.clients()):
            if space_id is None or client.space_id == space_id:
                self.registry.recheck_soon(client)

    # --- one connection --------------------------------------------------------------------
    async def websocket(self, scope, receive, send) -> None:
        await receive()  # websocket.connect
        match = _ROOM_PATH.fullmatch(scope["path"])
        if match is None or not _origin_allowed(scope):
            await send({"type": "websocket.close", "code": 4403})  # before accepting: an HTTP 403
            return
        await send({"type": "websocket.accept"})
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        try:
            ticket = ticket_read((query.get("ticket") or [""])[0])
        except InvalidTicket:
            await send({"type": "websocket.close", "code": BAD_TICKET})
            return
        if ticket.node_id != int(match[1]):
            await send({"type": "websocket.close", "code": BAD_TICKET})
            return
        participant_id = uuid.uuid4()
        try:
            participation = await db.call(access.participation_for, ticket)
            joined = await db.call(services.session_join, participation=participation, session_id=ticket.session_id,
                                   connection_id=participant_id, process=PROCESS)
        except services.SessionEnded:
            await send({"type": "websocket.close", "code": START_OVER})
            return
        except Throttled:
            await send({"type": "websocket.close", "code": TOO_MANY})
            return
        except PortalError:
            gone = await db.call(access.file_gone_for_reader, ticket)
            await send({"type": "websocket.close", "code": FILE_GONE if gone else NO_ACCESS})
            return
        client = Client(receive=receive, send=send, path=scope["path"], ticket=ticket, participation=participation,
                        participant_id=participant_id, can_edit=joined.can_edit)
        await self._serve(client, ticket.session_id)

    async def _serve(self, client: Client, session_id: int) -> None:
        room = None
        try:
            room = await self.registry.enter(session_id)
            client.room = room
            present = room.presence.snapshot()
            if present is not None:
                await client.send(present)
            await room.yroom.serve(client)
        finally:
            with anyio.CancelScope(shield=True):
                await client.close(1000)
                if room is not None:
                    await room.settle(client)  # what it sent is stored before it leaves
                    await room.forget(client)
                try:
                    await db.call(services.participant_leave, participant_id=client.participant_id)
                except Exception:  # the sweep removes the participant once its heartbeat stops
                    logger.exception("co-editing: leaving %s failed", client.participant_id)
                if room is not None:
                    try:
                        await self.registry.leave(room)
                    except RuntimeError:  # shutting down: the sweep closes the session
                        pass

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif scope["type"] == "websocket":
            await self.websocket(scope, receive, send)
        elif scope["type"] == "http":
            healthy = scope["path"] == "/coedit/health" and self.registry is not None
            body = b"ok" if healthy else b"not found"
            await send({"type": "http.response.start", "status": 200 if healthy else 404,
                        "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})


class _NoTickets(logging.Filter):
    """uvicorn logs each websocket's request line, query string included: the ticket never reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(arg, str) and "ticket=" in arg for arg in record.args):
            record.args = tuple(_TICKET.sub("ticket=[hidden]", arg) if isinstance(arg, str) else arg
                                for arg in record.args)
        if isinstance(record.msg, str) and "ticket=" in record.msg:
            record.msg = _TICKET.sub("ticket=[hidden]", record.msg)
        return True


_TICKET = re.compile(r"ticket=[^&\s\"']*")
for _name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
    logging.getLogger(_name).addFilter(_NoTickets())


def _origin_allowed(scope) -> bool:
    """A browser's page must come from this portal (another site's page cannot use a visitor's ticket,
    it has none; this is the second wall). Programs that send no Origin rely on the ticket alone."""
    headers = dict(scope.get("headers") or [])
    origin = headers.get(b"origin")
    if not origin:
        return True
    origin = origin.decode("latin-1")
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    domain, _port = split_domain_port(urlsplit(origin).netloc)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


application = Server()
