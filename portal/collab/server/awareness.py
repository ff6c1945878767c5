"""Presence (Yjs awareness) as the server lets it through.

An awareness update is ``count, (client id, clock, state JSON)*``. A
connection may speak only for the Yjs client ids it announced first, and its
``user`` (the name and colour others see beside its cursor) is always the one
the server resolved for it: nobody can show up under a colleague's name or
remove someone else's cursor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pycrdt import YMessageType, create_awareness_message, write_var_uint

STATE_MAX = 8 * 1024


class Malformed(ValueError):
    pass


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def var_uint(self) -> int:
        value, shift = 0, 0
        while True:
            if self.at >= len(self.data) or shift > 63:
                raise Malformed("truncated number")
            byte = self.data[self.at]
            self.at += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    def var_bytes(self) -> bytes:
        length = self.var_uint()
        if self.at + length > len(self.data):
            raise Malformed("truncated bytes")
        chunk = self.data[self.at:self.at + length]
        self.at += length
        return chunk


def _var_string(text: str) -> bytes:
    data = text.encode("utf-8")
    return write_var_uint(len(data)) + data


def _entries(message: bytes) -> list[tuple[int, int, bytes]] | None:
    try:
        outer = _Reader(message[1:])
        reader = _Reader(outer.var_bytes())
        return [(reader.var_uint(), reader.var_uint(), reader.var_bytes()) for _ in range(min(reader.var_uint(), 64))]
    except Malformed:
        return None


def _message(kept: list[bytes]) -> bytes | None:
    return create_awareness_message(write_var_uint(len(kept)) + b"".join(kept)) if kept else None


def _entry(client_id: int, clock: int, state: str) -> bytes:
    return write_var_uint(client_id) + write_var_uint(clock) + _var_string(state)


@dataclass(frozen=True)
class Remote:
    """A cursor another server process answers for."""
    process: bytes


@dataclass
class Presence:
    """The awareness client ids of one room: who owns each (a connection here,
    or another process), and its last clock."""
    owners: dict[int, object] = field(default_factory=dict)
    clocks: dict[int, int] = field(default_factory=dict)
    states: dict[int, bytes] = field(default_factory=dict)   # the last entry of each id, as relayed

    def police(self, message: bytes, *, owner, user: dict) -> bytes | None:
        """The awareness message as the room may relay it from ``owner``, or None (nothing left)."""
        kept = []
        for client_id, clock, state in _entries(message) or []:
            if len(state) > STATE_MAX:
                continue
            try:
                value = json.loads(state.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                continue
            if (value is not None and not isinstance(value, dict)) or not self._claim(client_id, owner):
                continue
            if value is not None:
                value["user"] = user
            self.clocks[client_id] = max(clock, self.clocks.get(client_id, 0))
            kept.append(self._keep(client_id, _entry(client_id, clock, json.dumps(value)), value is None))
        return _message(kept)

    def _keep(self, client_id: int, entry: bytes, gone: bool) -> bytes:
        if gone:
            self.states.pop(client_id, None)
        else:
            self.states[client_id] = entry
        return entry

    def snapshot(self) -> bytes | None:
        """Everyone present now, for a client that just joined (as y-websocket's own server sends)."""
        return _message(list(self.states.values()))

    def _claim(self, client_id: int, owner) -> bool:
        """Whether ``owner`` may speak for ``client_id`` (its first speaker; at most 4 ids each)."""
        if client_id in self.owners:
            return self.owners[client_id] == owner
        if not isinstance(owner, Remote) and sum(1 for who in self.owners.values() if who == owner) >= 4:
            return False
        self.owners[client_id] = owner
        return True

    def police_remote(self, message: bytes, *, origin: bytes) -> bytes | None:
        """What another process relayed (already policed there), minus entries for ids owned elsewhere."""
        owner = Remote(origin)
        kept = []
        for client_id, clock, state in _entries(message) or []:
            if not self._claim(client_id, owner):
                continue
            if state == b"null":
                self.owners.pop(client_id, None)
            entry = write_var_uint(client_id) + write_var_uint(clock) + write_var_uint(len(state)) + state
            kept.append(self._keep(client_id, entry, state == b"null"))
        return _message(kept)

    def forget(self, owner) -> bytes | None:
        """The message that removes ``owner``'s cursors for everyone (they left), or None."""
        ids = [client_id for client_id, who in self.owners.items() if who is owner]
        for client_id in ids:
            del self.owners[client_id]
            self.states.pop(client_id, None)
        return _message([_entry(client_id, self.clocks.pop(client_id, 0) + 1, "null") for client_id in ids])


def is_awareness(message: bytes) -> bool:
    return bool(message) and message[0] == YMessageType.AWARENESS
