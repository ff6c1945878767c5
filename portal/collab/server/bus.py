"""Fan-out between server processes: each room publishes what its clients
sent (stored updates, presence) on its session's Redis channel, and applies
what the other processes published. Without Redis (the embedded run, one
server process) there is nothing to fan out to.

Redis may stop: the server keeps serving (each process's clients go on
editing together, every update is stored first), reconnects with a growing
pause, and once Redis answers again every room reads the stored updates it
may have missed meanwhile, so the processes agree again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

import anyio
import redis.exceptions

logger = logging.getLogger(__name__)
_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

UPDATE = b"u"
AWARENESS = b"a"

def _prefix() -> str:
    """Channels of this deployment's database only: two sites (or two test runs) may share one Redis."""
    import hashlib

    from django.conf import settings

    database = settings.DATABASES["default"]
    key = f"{database.get('HOST', '')}:{database.get('PORT', '')}/{database['NAME']}"
    return f"coffer:coedit:{hashlib.sha256(key.encode()).hexdigest()[:12]}:"

Handler = Callable[[bytes, bytes, bytes], Awaitable[None]]  # kind, payload, the publishing process


def recheck_channel() -> str:
    """Where the portal asks the servers to re-check the connections of a space (payload: its id; 0 for all)."""
    return f"{_prefix()}recheck"


class LocalBus:
    """One process: publishing reaches nobody else."""

    def __init__(self):
        self.process = uuid.uuid4().bytes
        self.on_recheck = None  # async callable(space_id or None), set by the server
        self.on_resync = None  # async callable(), set by the server: rooms catch up from the database

    async def run(self, *, task_status=anyio.TASK_STATUS_IGNORED):
        task_status.started()
        await anyio.sleep_forever()

    async def subscribe(self, session_id: int, handler: Handler) -> None:
        pass

    async def unsubscribe(self, session_id: int) -> None:
        pass

    async def publish(self, session_id: int, kind: bytes, payload: bytes) -> None:
        pass


class RedisBus(LocalBus):
    """Several processes over Redis pub/sub: one channel per session, messages ``process id + kind + payload``."""

    def __init__(self, url: str):
        super().__init__()
        import redis.asyncio

        self.redis = redis.asyncio.from_url(url)
        self.pubsub = None
        self.handlers: dict[bytes, Handler] = {}
        self.prefix = _prefix()
        self.missed = False  # a message may have gone unsent or unheard: resync once Redis answers

    async def run(self, *, task_status=anyio.TASK_STATUS_IGNORED):
        """Listen for ever; while Redis is down, try again after 1, 2, 4... 30 s. Started at once
        either way: a process whose Redis is down still serves its own clients."""
        started, pause = False, 1.0
        try:
            while True:
                try:
                    await self._connect()
                    if not started:
                        started = True
                        task_status.started()
                    pause = await self._caught_up()
                    await self._listen()
                except _DOWN as exc:
                    self._lost(exc)
                    if not started:
                        started = True
                        task_status.started()
                    await self._close()
                    await anyio.sleep(pause)
                    pause = min(pause * 2, 30.0)
        finally:
            with anyio.CancelScope(shield=True):
                await self._close()
                await self.redis.aclose()

    async def _connect(self) -> None:
        self.pubsub = self.redis.pubsub()
        await self.pubsub.subscribe(f"{self.prefix}process:{self.process.hex()}", recheck_channel(), *self.handlers)

    async def _caught_up(self) -> float:
        if self.missed:
            self.missed = False
            logger.warning("co-editing: Redis answers again; the open documents read what they missed")
            if self.on_resync is not None:
                await self.on_resync()
        return 1.0

    async def _listen(self) -> None:
        recheck = recheck_channel().encode()
        async for message in self.pubsub.listen():
            if message.get("type") != "message":
                continue
            data = message["data"]
            if message["channel"] == recheck:
                if self.on_recheck is not None and data.isdigit():
                    await self.on_recheck(int(data) or None)
                continue
            if len(data) < 17 or data[:16] == self.process:
                continue
            handler = self.handlers.get(message["channel"])
            if handler is not None:
                try:
                    await handler(data[16:17], data[17:], data[:16])
                except Exception:  # one bad message must not stop the fan-out of every room
                    logger.exception("co-editing: a fanned-out message could not be applied")

    def _lost(self, exc: Exception) -> None:
        if not self.missed:
            logger.warning("co-editing: Redis is not answering (%s); each server process serves its own "
                           "editors until it is back", exc)
        self.missed = True

    async def _close(self) -> None:
        pubsub, self.pubsub = self.pubsub, None
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except _DOWN:
                pass  # the connection is gone already

    def _channel(self, session_id: int) -> bytes:
        return f"{self.prefix}{session_id}".encode()

    async def subscribe(self, session_id: int, handler: Handler) -> None:
        channel = self._channel(session_id)
        self.handlers[channel] = handler  # subscribed again on every reconnect
        try:
            if self.pubsub is not None:
                await self.pubsub.subscribe(channel)
        except _DOWN as exc:
            self._lost(exc)

    async def unsubscribe(self, session_id: int) -> None:
        channel = self._channel(session_id)
        self.handlers.pop(channel, None)
        try:
            if self.pubsub is not None:
                await self.pubsub.unsubscribe(channel)
        except _DOWN as exc:
            self._lost(exc)

    async def publish(self, session_id: int, kind: bytes, payload: bytes) -> None:
        message = self.process + kind + payload
        for attempt in (1, 2):  # once more on a fresh connection: a pooled one may predate a Redis restart
            try:
                await self.redis.publish(self._channel(session_id), message)
                return
            except _DOWN as exc:  # stored already: the other processes read it when they resync
                if attempt == 2:
                    self._lost(exc)


def bus_for(redis_url: str) -> LocalBus:
    return RedisBus(redis_url) if redis_url else LocalBus()
