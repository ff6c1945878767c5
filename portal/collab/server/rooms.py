"""Rooms: one per open session in this process, holding the session's Yjs
document (a pycrdt-websocket ``YRoom``) and the clients connected here.

What a client sends passes ``Room.inbound``: followers' changes are dropped,
editors' updates are stored (grouped into one transaction with whatever
else arrived meanwhile) before the room applies and relays them, and
presence is policed (``awareness.Presence``). Updates and presence from the
other processes arrive through the bus.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

import anyio
from django.conf import settings
from pycrdt import Doc, Text, YMessageType, YSyncMessageType, read_message
from pycrdt.websocket import YRoom

from portal.collab import document, services
from portal.collab.server import bus as buses
from portal.collab.server import db
from portal.collab.server.awareness import Presence

logger = logging.getLogger(__name__)

_EMPTY_UPDATE = b"\x00\x00"


class RecheckNeeded(Exception):
    """The sender's access changed since it was last checked: nothing of it was stored."""


class TooLarge(Exception):
    """The update would take the document past the editor's size limit."""


def _valid(update: bytes) -> bool:
    """Whether the bytes decode as a Yjs update (checked on a scratch document before anything is stored)."""
    try:
        Doc().apply_update(update)
    except Exception:  # pycrdt raises plain exceptions for undecodable updates
        return False
    return True


class Room:
    def __init__(self, registry: Registry, session_id: int, doc: Doc):
        self.registry, self.session_id = registry, session_id
        self.yroom = YRoom(ready=True, ydoc=doc, log=logger)
        self.presence = Presence()
        self.users = 0
        self._writer_scope: anyio.CancelScope | None = None
        self._pending: list[tuple[bytes, int | None, asyncio.Future]] = []
        self._wake = asyncio.Event()

    # --- what clients send -----------------------------------------------------------
    async def inbound(self, client, message: bytes) -> bytes | None:
        """The message as the room may process it, or None to drop it."""
        if not message:
            return None
        if message[0] == YMessageType.SYNC and len(message) > 1:
            if message[1] == YSyncMessageType.SYNC_STEP1:
                return message
            if message[1] in (YSyncMessageType.SYNC_STEP2, YSyncMessageType.SYNC_UPDATE):
                return await self._update(client, message)
            return None
        if message[0] == YMessageType.AWARENESS:
            policed = self.presence.police(message, owner=client, user=client.presence_user)
            if policed is not None:
                await self.registry.bus.publish(self.session_id, buses.AWARENESS, policed)
            return policed
        return None  # auth and query-awareness messages: nothing a client may ask of the server

    async def _update(self, client, message: bytes) -> bytes | None:
        if not client.can_edit:
            return None  # a follower's document never changes anyone else's
        try:
            update = read_message(message[2:])
        except Exception:
            return None
        if update == _EMPTY_UPDATE:
            return message
        if len(update) > settings.COEDIT_MAX_BYTES or \
                len(self.yroom.ydoc.get(document.TEXT_NAME, type=Text)) + len(update) > settings.COEDIT_MAX_BYTES:
            raise TooLarge()  # the editor's limit holds for the document as for the file it opens
        if not _valid(update):
            return None
        await self.persist(update, client.author_id, client.participant_id)
        await self.registry.bus.publish(self.session_id, buses.UPDATE, update)
        return message

    # --- storing, grouped ---------------------------------------------------------------
    async def persist(self, update: bytes, author_id: int | None, participant_id) -> None:
        """Return once the update is stored. SessionEnded once the session has
        ended; RecheckNeeded when the sender's access changed since its last check."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((update, author_id, participant_id, future))
        self._wake.set()
        await future

    @property
    def clients(self) -> set:
        return self.yroom.clients

    async def write_loop(self, *, task_status=anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.CancelScope() as scope:
            self._writer_scope = scope
            task_status.started()
            await self._write_batches()

    async def _write_batches(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            try:
                refused = await db.call(services.updates_append, session_id=self.session_id,
                                        updates=[(update, author, sender) for update, author, sender, _ in batch])
            except Exception as error:
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for _, _, sender, future in batch:
                    if not future.done():
                        future.set_exception(RecheckNeeded()) if sender in refused else future.set_result(None)

    # --- from other processes --------------------------------------------------------------
    async def from_bus(self, kind: bytes, payload: bytes, origin: bytes) -> None:
        if kind == buses.UPDATE:
            self.yroom.ydoc.apply_update(payload)  # the YRoom relays it to the clients here
        elif kind == buses.AWARENESS:
            # Cursors another process answers for: none of this process's clients may speak for them,
            # and that process may not speak for ours.
            relayed = self.presence.police_remote(payload, origin=origin)
            if relayed is not None:
                await self.broadcast(relayed)

    async def broadcast(self, message: bytes, *, but=None) -> None:
        for client in list(self.clients):
            if client is not but:
                await client.send(message)

    async def forget(self, client) -> None:
        """A client left: its cursors go for everyone."""
        message = self.presence.forget(client)
        if message is not None:
            await self.broadcast(message, but=client)
            await self.registry.bus.publish(self.session_id, buses.AWARENESS, message)


class Registry:
    """This process's rooms, by session id; loads a room on its first client, closes it after its last."""

    def __init__(self, bus: buses.LocalBus):
        self.bus = bus
        self.rooms: dict[int, Room] = {}
        self._loading: dict[int, asyncio.Lock] = {}
        self._group = None

    async def run(self, *, task_status=anyio.TASK_STATUS_IGNORED):
        async with anyio.create_task_group() as group:
            self._group = group
            task_status.started()
            await anyio.sleep_forever()

    async def enter(self, session_id: int) -> Room:
        lock = self._loading.setdefault(session_id, asyncio.Lock())
        async with lock:
            room = self.rooms.get(session_id)
            if room is None:
                room = await self._load(session_id)
            room.users += 1
            return room

    async def _load(self, session_id: int) -> Room:
        holder: dict[str, Room] = {}

        async def handler(kind: bytes, payload: bytes, origin: bytes) -> None:
            if "room" in holder:
                await holder["room"].from_bus(kind, payload, origin)
            else:  # arrived while loading: the stored updates include it, or it is applied right after
                early.append((kind, payload, origin))

        early: list[tuple[bytes, bytes, bytes]] = []
        await self.bus.subscribe(session_id, handler)  # before reading: nothing published meanwhile is missed
        updates = await db.call(services.session_updates, session_id=session_id)
        room = Room(self, session_id, document.doc_from(updates))
        await self._group.start(room.yroom.start)
        await self._group.start(room.write_loop)
        holder["room"] = room
        for kind, payload, origin in early:
            await room.from_bus(kind, payload, origin)
        self.rooms[session_id] = room
        return room

    async def leave(self, room: Room) -> None:
        room.users -= 1
        if room.users == 0:
            self._group.start_soon(partial(self._close_later, room))

    async def _close_later(self, room: Room) -> None:
        """After the grace (a reload comes back within it), the session closes if nobody anywhere is in it."""
        await anyio.sleep(settings.COEDIT_CLOSE_GRACE_SECONDS)
        lock = self._loading.setdefault(room.session_id, asyncio.Lock())
        async with lock:
            if room.users or self.rooms.get(room.session_id) is not room:
                return
            del self.rooms[room.session_id]
            await self.bus.unsubscribe(room.session_id)
            await room.yroom.stop()
            room._writer_scope.cancel()
        try:
            await db.call(services.session_close, session_id=room.session_id)
        except Exception:  # the sweep closes it later
            logger.exception("co-editing session %s could not be closed", room.session_id)

    def spawn(self, function, *args) -> None:
        """Run ``function(*args)`` in the background (e.g. one connection's re-check)."""
        self._group.start_soon(function, *args)

    def clients(self):
        for room in list(self.rooms.values()):
            yield from list(room.clients)
