"""Fan-out between server processes: each room publishes what its clients
sent (stored updates, presence) on its session's Redis channel, and applies
what the other processes published. Without Redis (the embedded run, one
server process) there is nothing to fan out to.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

import anyio

logger = logging.getLogger(__name__)

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
        self.pubsub = self.redis.pubsub()
        self.handlers: dict[bytes, Handler] = {}
        self.prefix = _prefix()

    async def run(self, *, task_status=anyio.TASK_STATUS_IGNORED):
        await self.pubsub.subscribe(f"{self.prefix}process:{self.process.hex()}")  # the connection exists from now
        recheck = recheck_channel().encode()
        await self.pubsub.subscribe(recheck)
        task_status.started()
        try:
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
        finally:
            with anyio.CancelScope(shield=True):
                await self.pubsub.aclose()
                await self.redis.aclose()

    def _channel(self, session_id: int) -> bytes:
        return f"{self.prefix}{session_id}".encode()

    async def subscribe(self, session_id: int, handler: Handler) -> None:
        channel = self._channel(session_id)
        self.handlers[channel] = handler
        await self.pubsub.subscribe(channel)

    async def unsubscribe(self, session_id: int) -> None:
        channel = self._channel(session_id)
        self.handlers.pop(channel, None)
        await self.pubsub.unsubscribe(channel)

    async def publish(self, session_id: int, kind: bytes, payload: bytes) -> None:
        await self.redis.publish(self._channel(session_id), self.process + kind + payload)


def bus_for(redis_url: str) -> LocalBus:
    return RedisBus(redis_url) if redis_url else LocalBus()
