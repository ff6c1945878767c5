"""A y-websocket client in Python (pycrdt + websockets), as a program other
than the browser would speak to the co-editing server: the tests' second
and third participants, and the benchmark's simulated editors."""

from __future__ import annotations

import asyncio
import time

import websockets
from pycrdt import (Doc, Text, YMessageType, YSyncMessageType, create_awareness_message, create_sync_message,
                    create_update_message, handle_sync_message, write_var_uint)


class YClient:
    def __init__(self, url: str, *, origin: str | None = None):
        self.url, self.origin = url, origin
        self.doc = Doc()
        self.text = self.doc.get("content", type=Text)
        self.awareness: list[bytes] = []        # raw awareness messages received
        self.received_at: list[float] = []      # monotonic time of each update received
        self.close_code: int | None = None
        self.synced = asyncio.Event()
        self._socket = None
        self._reader = None

    async def connect(self) -> YClient:
        headers = {"Origin": self.origin} if self.origin else None
        self._socket = await websockets.connect(self.url, additional_headers=headers, max_size=None)
        self._reader = asyncio.create_task(self._read())
        await self._socket.send(create_sync_message(self.doc))
        return self

    async def _read(self) -> None:
        try:
            async for message in self._socket:
                if not isinstance(message, bytes) or not message:
                    continue
                if message[0] == YMessageType.SYNC:
                    reply = handle_sync_message(message[1:], self.doc)
                    if message[1] == YSyncMessageType.SYNC_STEP2:
                        self.synced.set()
                    if message[1] == YSyncMessageType.SYNC_UPDATE:
                        self.received_at.append(time.monotonic())
                    if reply is not None:
                        await self._socket.send(reply)
                elif message[0] == YMessageType.AWARENESS:
                    self.awareness.append(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self._socket.close_code

    async def edit(self, change) -> None:
        """Apply ``change(text)`` locally and send the update it made."""
        before = self.doc.get_state()
        change(self.text)
        await self._socket.send(create_update_message(self.doc.get_update(before)))

    async def insert(self, index: int, value: str) -> None:
        await self.edit(lambda text: text.insert(index, value))

    async def announce(self, client_id: int, clock: int, state_json: str) -> None:
        """Send one awareness entry (presence) as a browser would."""
        data = state_json.encode()
        body = write_var_uint(1) + write_var_uint(client_id) + write_var_uint(clock) + write_var_uint(len(data)) + data
        await self._socket.send(create_awareness_message(body))

    async def send_raw(self, message: bytes) -> None:
        await self._socket.send(message)

    @property
    def content(self) -> str:
        return str(self.text)

    async def wait_for(self, predicate, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; content is {self.content!r}, close code {self.close_code}")
            await asyncio.sleep(0.01)

    async def wait_closed(self, timeout: float = 15.0) -> int | None:
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.close_code

    async def close(self) -> None:
        await self._socket.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
