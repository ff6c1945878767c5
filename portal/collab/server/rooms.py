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
from pycrdt import Doc, Text, YMessageType, YSyncMessageType, merge_updates, read_message
from pycrdt.websocket import YRoom

from portal.collab import document, services
from portal.collab.server import bus as buses
from portal.collab.server import db
from portal.collab.server.awareness import Presence

logger = logging.getLogger(__name__)

_EMPTY_UPDATE = b"\x00\x00"
_QUEUE_LIMIT = 5000  # updates waiting for the writer; a client sending more waits (backpressure)
START_OVER, SERVER_FAULT = 4409, 1011


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
        self._pending: list[tuple[bytes, object]] = []
        self._pending_bytes = 0
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()

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

    async def _update(self, client, message: bytes) -> None:
        """An editor's update is queued for storing; the writer applies and relays it once stored. Nothing is
        returned to the YRoom: it never applies a client's update itself."""
        if not client.can_edit:
            return None  # a follower's document never changes anyone else's
        try:
            update = read_message(message[2:])
        except Exception:
            return None
        if update == _EMPTY_UPDATE:
            return None
        if len(update) > settings.COEDIT_MAX_BYTES or len(self.yroom.ydoc.get(document.TEXT_NAME, type=Text)) \
                + self._pending_bytes + len(update) > settings.COEDIT_MAX_BYTES:
            raise TooLarge()  # the editor's limit holds for the document as for the file it opens
        if not _valid(update):
            return None
        await self.queue(update, client)
        return None

    # --- storing, grouped ---------------------------------------------------------------
    async def queue(self, update: bytes, client) -> None:
        """Queue an update for the writer (waiting only while the queue is full). It reaches the document,
        the other clients and the other processes once it is stored."""
        while len(self._pending) >= _QUEUE_LIMIT:
            self._drained.clear()
            await self._drained.wait()
        self._pending.append((update, client))
        self._pending_bytes += len(update)
        client.unstored += 1
        client.settled.clear()
        self._wake.set()

    @staticmethod
    def _done(client, count: int = 1) -> None:
        """``count`` of the client's queued updates reached their end (stored, or refused for good)."""
        client.unstored -= count
        if client.unstored <= 0:
            client.unstored = 0
            client.settled.set()

    async def settle(self, client, timeout: float = 60) -> None:
        """Wait until every update the client sent is stored (or refused for good): a leaving client's
        last keystrokes are stored before it leaves."""
        with anyio.move_on_after(timeout):
            await client.settled.wait()

    @property
    def clients(self) -> set:
        return self.yroom.clients

    async def write_loop(self, *, task_status=anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.CancelScope() as scope:
            self._writer_scope = scope
            task_status.started()
            while True:
                await self._wake.wait()
                self._wake.clear()
                batch, self._pending, self._pending_bytes = self._pending, [], 0
                self._drained.set()
                if batch:
                    await self._write(batch)

    async def _write(self, batch: list[tuple[bytes, object]]) -> None:
        """Store a batch in one transaction, then apply it as one update (the YRoom relays it to everyone here,
        once per client) and publish it once for the other processes. Updates of senders whose access changed
        are held back until their right was looked up again."""
        try:
            refused = await db.write(services.updates_append, session_id=self.session_id, updates=[
                (update, client.author_id, client.participant_id) for update, client in batch])
        except services.SessionEnded:
            for _, client in batch:
                self._done(client)
            for client in list(self.clients):
                await client.close(START_OVER)
            return
        except Exception:
            logger.exception("co-editing session %s: updates could not be stored", self.session_id)
            for _, client in batch:
                self._done(client)
            for client in {client for _, client in batch}:
                await client.close(SERVER_FAULT)
            return
        stored = [update for update, client in batch if client.participant_id not in refused]
        if stored:
            merged = merge_updates(*stored) if len(stored) > 1 else stored[0]
            self.yroom.ydoc.apply_update(merged)
            await self.registry.bus.publish(self.session_id, buses.UPDATE, merged)
        held: dict = {}
        for update, client in batch:
            if client.participant_id in refused:
                held.setdefault(client, []).append(update)
            else:
                self._done(client)
        for client, updates in held.items():
            self.registry.spawn(self._recheck_then_queue, client, updates)

    async def _recheck_then_queue(self, client, updates: list[bytes]) -> None:
        """The sender's access changed: store its held updates once its right is confirmed (even if it is
        leaving meanwhile: they were sent while it had it), drop them if it is gone."""
        try:
            if await client.recheck():
                for update in updates:
                    await self.queue(update, client)
        finally:
            self._done(client, len(updates))

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
        self._rechecks = asyncio.Semaphore(1)
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

    async def resync(self) -> None:
        """After a Redis outage: each open room applies the stored updates it may not have heard of
        (applying a known one changes nothing); the YRoom relays the new ones to its clients."""
        for room in list(self.rooms.values()):
            try:
                updates = await db.call(services.session_updates, session_id=room.session_id)
                if updates:
                    room.yroom.ydoc.apply_update(merge_updates(*updates) if len(updates) > 1 else updates[0])
            except Exception:  # one room's failure must not keep the others behind
                logger.exception("co-editing session %s could not catch up after Redis came back", room.session_id)

    def recheck_soon(self, client) -> None:
        """Look a connection's right up again in the background, one connection at a time in this process
        (a batch of connections that joined together must not fill the database threads at once)."""
        if not client.rechecking:
            client.rechecking = True
            self._group.start_soon(self._recheck, client)

    async def _recheck(self, client) -> None:
        try:
            async with self._rechecks:
                await client.recheck()
        finally:
            client.rechecking = False

    def spawn(self, function, *args) -> None:
        """Run ``function(*args)`` in the background (e.g. one connection's re-check)."""
        self._group.start_soon(function, *args)

    def clients(self):
        for room in list(self.rooms.values()):
            yield from list(room.clients)
