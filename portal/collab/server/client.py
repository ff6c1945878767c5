"""One websocket connection, as the room sees it: a pycrdt ``Channel`` whose
incoming messages pass the room's checks, and whose right to the file is
looked up again every ``COEDIT_RECHECK_SECONDS``.

Close codes the editor page knows: 4400 bad or expired ticket, 4403 no
access (any more), 4404 the file went to the trash, 4409 start over (the
session ended, or the connection's mode changed: it became a follower or an
editor), 4413 the document would pass the editor's size limit, 4429 too many
windows open on it, 1011 a server fault.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

import anyio
from django.conf import settings

from portal.collab import access, services
from portal.collab.access import Participation
from portal.collab.server import db
from portal.collab.server.rooms import TooLarge
from portal.collab.tickets import Ticket
from portal.core.errors import PortalError

logger = logging.getLogger(__name__)

BAD_TICKET, NO_ACCESS, FILE_GONE, START_OVER, TOO_LARGE, TOO_MANY, SERVER_FAULT = (
    4400, 4403, 4404, 4409, 4413, 4429, 1011)


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
                              "colorLight": participation.color + "33", "readOnly": not can_edit}
        # Spread the periodic look-ups of connections that joined together over the interval.
        self.checked_at = time.monotonic() - random.uniform(0, settings.COEDIT_RECHECK_SECONDS / 2)
        self.rechecking = False
        self.unstored = 0                  # updates queued for storing, not yet stored (or refused)
        self.settled = asyncio.Event()
        self.settled.set()
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
            if time.monotonic() - self.checked_at > settings.COEDIT_RECHECK_SECONDS:
                self.room.registry.recheck_soon(self)  # in the background: storing never waits for it
            try:
                passed = await self.room.inbound(self, message)
            except TooLarge:
                await self.close(TOO_LARGE)
                raise StopAsyncIteration from None
            except Exception:
                logger.exception("co-editing: a message from %s could not be handled", self.participant_id)
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
        epoch = await db.call(services.participant_epoch, participant_id=self.participant_id)  # before the look
        if epoch is None:  # swept away meanwhile
            await self.close(START_OVER)
            return False
        try:
            now = await db.call(access.participation_for, self.ticket)
        except PortalError:
            gone = await db.call(access.file_gone_for_reader, self.ticket)
            await self.close(FILE_GONE if gone else NO_ACCESS)
            return False
        if now.can_edit != self.can_edit:
            await self.close(START_OVER)
            return False
        await db.call(services.participant_checked, participant_id=self.participant_id, epoch=epoch)
        return True
