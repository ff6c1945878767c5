"""Tree objects (one per folder), pass 2 of a backup: built from the files
cache alone — no disk access — and reused from the tree cache for every
folder under which nothing changed. Format: docs/backup-protocol.md."""

from __future__ import annotations

import json
from json.encoder import encode_basestring as _string
import os
import stat
from dataclasses import dataclass
from pathlib import PurePath
from typing import Callable

from .crypto import Keys, chunk_id
from .errors import UnsafeEntry
from .state import State, unpack_ids


def encode(entries: list[dict]) -> bytes:
    """Canonical JSON: sorted keys, compact, entries sorted by name — same folder, same id."""
    entries = sorted(entries, key=lambda e: e["name"])
    return json.dumps({"entries": entries}, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def decode(data: bytes) -> list[dict]:
    return json.loads(data)["entries"]


# What may not appear in a name: separators of this system (a name is one path piece) and NUL.
_NOT_IN_NAMES = {"/", "\x00", os.sep} | ({os.altsep} if os.altsep else set()) | ({":"} if os.name == "nt" else set())
TYPES = ("file", "dir", "symlink")


def check_entries(entries, where: str) -> None:
    """Refuse a tree (from the portal, which may be the attacker) whose entries
    could make a restore write outside its target: empty, '.', '..', names
    holding a separator or NUL, a name twice (a symlink, then a folder written
    through it), unknown types. ``where`` (the folder) goes into the message."""
    if not isinstance(entries, list):
        raise UnsafeEntry(where or "/", reason="the folder's tree is not a list of entries")
    names: set[str] = set()
    for e in entries:
        name = e.get("name") if isinstance(e, dict) else None
        shown = f"{where.rstrip('/')}/{name}" if where else str(name)
        if not isinstance(name, str) or not name:
            raise UnsafeEntry(shown, reason="an entry has no name")
        if name in (".", "..") or any(bad in name for bad in _NOT_IN_NAMES):
            raise UnsafeEntry(shown, reason="a name is one path piece: no '.', '..', separators or NUL")
        if name in names:
            raise UnsafeEntry(shown, reason="the folder names it twice")
        if e.get("type") not in TYPES:
            raise UnsafeEntry(shown, reason=f"unknown entry type {e.get('type')!r}")
        names.add(name)


def entry_dict(e, tree: str | None = None) -> dict:
    out = {"name": e.name, "type": e.type, "mode": e.mode, "mtime_ns": e.mtime_ns}
    if e.type == "file":
        out["size"] = e.size
        out["chunks"] = unpack_ids(e.chunks)
    elif e.type == "dir":
        out["tree"] = tree
    elif e.type == "symlink":
        out["target"] = e.target
    return out


def entry_json(e, tree: str | None = None) -> str:
    """``json.dumps(entry_dict(e, tree), separators=(",", ":"), sort_keys=True, ensure_ascii=False)``,
    byte for byte, without the dict (trees of big folders are rebuilt on every change in them)."""
    head = f'{{"mode":{e.mode},"mtime_ns":{e.mtime_ns},"name":{_string(e.name)},'
    if e.type == "file":
        hexed = e.chunks.hex() if e.chunks else ""
        chunks = '","'.join(hexed[i:i + 64] for i in range(0, len(hexed), 64))
        return f'{{"chunks":[{chunks and chr(34) + chunks + chr(34)}],' + head[1:] + f'"size":{e.size},"type":"file"}}'
    if e.type == "dir":
        return head + f'"tree":{_string(tree) if tree is not None else "null"},"type":"dir"}}'
    if e.type == "symlink":
        return head + f'"target":{_string(e.target) if e.target is not None else "null"},"type":"symlink"}}'
    return json.dumps(entry_dict(e, tree), separators=(",", ":"), sort_keys=True, ensure_ascii=False)


@dataclass
class Totals:
    files: int = 0
    dirs: int = 0
    bytes: int = 0

    def add(self, other: "Totals") -> None:
        self.files += other.files
        self.dirs += other.dirs
        self.bytes += other.bytes


# emit(tree_id, plaintext): make sure the portal will have this tree object
Emit = Callable[[str, bytes], None]


class TreeBuilder:
    def __init__(self, state: State, keys: Keys, emit: Emit):
        self.state, self.keys, self.emit = state, keys, emit

    def _tree(self, entries: list[dict]) -> str:
        data = encode(entries)
        tid = chunk_id(self.keys, data)
        self.emit(tid, data)
        return tid

    def folder(self, path: str) -> tuple[str, Totals]:
        """The tree of a scanned folder (cached when nothing under it changed)."""
        cached = self.state.tree_get(path)
        if cached:
            return cached[0], Totals(*cached[1:])
        out, totals = [], Totals()
        for e in list(self.state.iter_entries(path)):
            if e.type == "dir":
                tid, sub = self.folder(os.path.join(path, e.name))
                out.append((e.name, entry_json(e, tid)))
                totals.add(sub)
                totals.dirs += 1
            elif e.type == "file":
                if e.chunks is None:
                    continue  # never read successfully
                out.append((e.name, entry_json(e)))
                totals.files += 1
                totals.bytes += e.size
            else:
                out.append((e.name, entry_json(e)))
        out.sort(key=lambda pair: pair[0])
        data = ('{"entries":[' + ",".join(j for _, j in out) + "]}").encode()
        tid = chunk_id(self.keys, data)
        self.emit(tid, data)
        self.state.tree_put(path, tid, totals.files, totals.dirs, totals.bytes)
        return tid, totals

    def root(self, folders: list[str]) -> tuple[str, Totals]:
        """The snapshot's root: the added folders under their full paths (like restic).
        The folders above them get their mode but no mtime (0): they are not backed up,
        and their ever-moving mtimes would make every snapshot's root new."""
        nested: dict = {}
        for folder in folders:
            node = nested
            for part in _parts(folder):
                node = node.setdefault(part, {})
            node[None] = folder  # marks an added folder
        totals = Totals()
        tid = self._level(nested, _anchor(folders[0]) if folders else "/", totals)
        return tid, totals

    def _level(self, node: dict, path: str, totals: Totals) -> str:
        out = []
        for name, child in node.items():
            if name is None:
                continue
            child_path = os.path.join(path, name)
            st = os.lstat(child_path)
            if None in child:
                tid, sub = self.folder(child[None])
                totals.add(sub)
                mtime_ns = st.st_mtime_ns
            else:
                tid = self._level(child, child_path, totals)
                mtime_ns = 0
            totals.dirs += 1
            out.append({"name": name, "type": "dir", "mode": stat.S_IMODE(st.st_mode),
                        "mtime_ns": mtime_ns, "tree": tid})
        return self._tree(out)


def _anchor(path: str) -> str:
    return PurePath(path).anchor or "/"


def _parts(path: str) -> list[str]:
    return list(PurePath(path).parts[1:])
