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


@dataclass
class Presence:
    """The awareness client ids of one room: who owns each, and its last clock."""
    owners: dict[int, object] = field(default_factory=dict)
    clocks: dict[int, int] = field(default_factory=dict)

    def police(self, message: bytes, *, owner, user: dict) -> bytes | None:
        """The awareness message as the room may relay it from ``owner``, or None (nothing left)."""
        try:
            outer = _Reader(message[1:])
            reader = _Reader(outer.var_bytes())
            entries = []
            for _ in range(min(reader.var_uint(), 64)):
                client_id, clock, state = reader.var_uint(), reader.var_uint(), reader.var_bytes()
                entries.append((client_id, clock, state))
        except Malformed:
            return None
        kept = []
        for client_id, clock, state in entries:
            if self.owners.setdefault(client_id, owner) is not owner or len(state) > STATE_MAX:
                continue
            try:
                value = json.loads(state.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                continue
            if value is not None:
                if not isinstance(value, dict):
                    continue
                value["user"] = user
            self.clocks[client_id] = max(clock, self.clocks.get(client_id, 0))
            kept.append(write_var_uint(client_id) + write_var_uint(clock) + _var_string(json.dumps(value)))
        if not kept:
            return None
        body = write_var_uint(len(kept)) + b"".join(kept)
        return create_awareness_message(body)

    def forget(self, owner) -> bytes | None:
        """The message that removes ``owner``'s cursors for everyone (they left), or None."""
        ids = [client_id for client_id, who in self.owners.items() if who is owner]
        for client_id in ids:
            del self.owners[client_id]
        if not ids:
            return None
        body = write_var_uint(len(ids)) + b"".join(
            write_var_uint(client_id) + write_var_uint(self.clocks.pop(client_id, 0) + 1) + _var_string("null")
            for client_id in ids)
        return create_awareness_message(body)


def is_awareness(message: bytes) -> bool:
    return bool(message) and message[0] == YMessageType.AWARENESS
