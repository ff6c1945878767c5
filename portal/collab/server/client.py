"""One websocket connection, as the room sees it: a pycrdt ``Channel`` whose
incoming messages pass the room's checks, and whose right to the file is
looked up again every ``COEDIT_RECHECK_SECONDS``.

Close codes the editor page knows: 4400 bad or expired ticket, 4403 no
access (any more), 4409 start over (the session ended, or the connection's
mode changed: it became a follower or an editor), 1011 a server fault.
"""

from __future__ import annotations

import logging
import time

import anyio
from django.conf import settings

from portal.collab import access
from portal.collab.access import Participation
from portal.collab.server import db
from portal.collab.services import SessionEnded
from portal.collab.tickets import Ticket
from portal.core.errors import PortalError

logger = logging.getLogger(__name__)

BAD_TICKET, NO_ACCESS, START_OVER, SERVER_FAULT = 4400, 4403, 4409, 1011


class Client:
    def __init__(self, *, receive, send, path: str, ticket: Ticket, participation: Participation,
                 participant_id, can_edit: bool):
        self._receive, self._send = receive, send
        self._send_lock = anyio.Lock()
        self.path, self.ticket = path, ticket
        self.participant_id = participant_id
        self.can_edit = can_edit
        self.author_id = participation.author.pk
        self.space_id = participation.space_id
        self.presence_user = {"name": participation.name, "color": participation.color,
                              "colorLight": participation.color + "33"}
        self.checked_at = time.monotonic()
        self.closed = False
        self.room = None

    # --- the Channel protocol ------------------------------------------------------------
    def __aiter__(self):
        return self

    async def __anext__(self) -> bytes:
        while True:
            if self.closed:
                raise StopAsyncIteration
            event = await self._receive()
            if event["type"] == "websocket.disconnect":
                self.closed = True
                raise StopAsyncIteration
            message = event.get("bytes")
            if event["type"] != "websocket.receive" or not message:
                continue
            if time.monotonic() - self.checked_at > settings.COEDIT_RECHECK_SECONDS and not await self.recheck():
                raise StopAsyncIteration
            try:
                passed = await self.room.inbound(self, message)
            except SessionEnded:
                await self.close(START_OVER)
                raise StopAsyncIteration from None
            except Exception:
                logger.exception("co-editing: a message from %s could not be stored", self.participant_id)
                await self.close(SERVER_FAULT)
                raise StopAsyncIteration from None
            if passed is not None:
                return passed

    async def recv(self) -> bytes:
        return await self.__anext__()

    async def send(self, message: bytes) -> None:
        if self.closed:
            return
        try:
            async with self._send_lock:
                await self._send({"type": "websocket.send", "bytes": message})
        except Exception:  # the peer went away: the receive side ends the connection
            self.closed = True

    async def close(self, code: int) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            async with self._send_lock:
                await self._send({"type": "websocket.close", "code": code})
        except Exception:
            pass

    # --- the right to stay ---------------------------------------------------------------
    async def recheck(self) -> bool:
        """Whether the connection may go on as it is; closes it (and says False) otherwise."""
        self.checked_at = time.monotonic()
        try:
            now = await db.call(access.participation_for, self.ticket)
        except PortalError:
            await self.close(NO_ACCESS)
            return False
        if now.can_edit != self.can_edit:
            await self.close(START_OVER)
            return False
        return True
