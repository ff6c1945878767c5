"""Change detection, pass 1 of a backup: walk folders (one directory at a
time, never the whole tree in memory), compare each entry's stat with the
files cache, and hand changed files to the pipeline. Excludes are
gitignore-style patterns (pathspec)."""

from __future__ import annotations

import logging
import os
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pathspec

from .errors import Interrupted
from .state import Entry, State

logger = logging.getLogger(__name__)

DEFAULT_EXCLUDES = [
    "~$*", ".~lock.*#", "*.tmp", "Thumbs.db", ".DS_Store",
    ".cache/", "__pycache__/", "**/node_modules/.cache/",
]


class Excluder:
    """gitignore-style patterns, matched on paths relative to the added folder."""

    def __init__(self, root: str, patterns: list[str], also: list[str] = ()):
        self.root = root.rstrip(os.sep) or os.sep
        self.spec = pathspec.GitIgnoreSpec.from_lines([*DEFAULT_EXCLUDES, *patterns])
        # absolute paths never backed up (the agent's home), when they are inside this folder
        self.also = [a.rstrip(os.sep) for a in also if a.startswith(self.root.rstrip(os.sep) + os.sep)]
        self._any = _combined(self.spec)

    def relative(self, path: str) -> str:
        rel = os.path.relpath(path, self.root)
        return rel.replace(os.sep, "/")

    def match_rel(self, rel: str, is_dir: bool) -> bool:
        """``rel``: the path below the root with "/" separators (the scanner builds it as it walks)."""
        if is_dir:
            rel += "/"
        if self._any is not None:
            return self._any.search(rel) is not None
        return self.spec.match_file(rel)

    def excluded(self, path: str, is_dir: bool) -> bool:
        if any(path == a or path.startswith(a + os.sep) for a in self.also):
            return True
        rel = self.relative(path)
        return rel != "." and self.match_rel(rel, is_dir)

    def excluded_anywhere(self, path: str, is_dir: bool) -> bool:
        """``path`` or one of its folders (below the root) is excluded."""
        rel = self.relative(path)
        if rel == "." or rel.startswith(".."):
            return rel != "."
        parts = rel.split("/")
        for i in range(1, len(parts)):
            if self.excluded(os.path.join(self.root, *parts[:i]), True):
                return True
        return self.excluded(path, is_dir)


def _combined(spec) -> "re.Pattern | None":
    """One regex for the whole pattern list when it has no negations (then "any
    pattern matches" is the gitignore answer): one search per path instead of one per pattern."""
    regexes = []
    for pattern in spec.patterns:
        if pattern.include is None:
            continue
        regex = getattr(pattern, "regex", None)
        if pattern.include is False or regex is None:
            return None
        regexes.append("(?:" + re.sub(r"\(\?P<\w+>", "(?:", regex.pattern) + ")")  # no duplicate group names
    return re.compile("|".join(regexes)) if regexes else re.compile(r"(?!)")


def join(directory: str, name: str) -> str:
    return os.path.join(directory, name)


def entry_from_stat(name: str, st: os.stat_result, path: str) -> Entry | None:
    """The cache entry for an lstat result; None for what is not backed up (sockets, devices)."""
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISREG(st.st_mode):
        return Entry(name, "file", mode, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
    if stat.S_ISDIR(st.st_mode):
        return Entry(name, "dir", mode, st.st_mtime_ns, st.st_ctime_ns, 0, st.st_ino)
    if stat.S_ISLNK(st.st_mode):
        return Entry(name, "symlink", mode, st.st_mtime_ns, st.st_ctime_ns, 0, st.st_ino, target=os.readlink(path))
    return None


@dataclass
class ScanStats:
    dirs_scanned: int = 0
    files_seen: int = 0
    files_changed: int = 0
    skipped: int = 0


# submit(directory, entry, old_entry) -> None: read the file; the pipeline writes its row later
Submit = Callable[[str, Entry, "Entry | None"], None]


class Scanner:
    def __init__(self, state: State, submit: Submit, stop: threading.Event, on_dir: Callable[[], None] = lambda: None):
        self.state = state
        self.submit = submit
        self.stop = stop
        self.on_dir = on_dir  # called after each directory (checkpoints, draining results)
        self.stats = ScanStats()

    def warn(self, path: str, problem: object) -> None:
        self.stats.skipped += 1
        logger.warning("skipped %s: %s", path, problem)

    def invalidate(self, directory: str, root: str) -> None:
        """``directory``'s tree and every tree above it, up to the added folder, must be rebuilt."""
        paths = [directory]
        while directory != root and len(directory) > len(root):
            directory = os.path.dirname(directory)
            paths.append(directory)
        self.state.trees_invalidate(paths)

    def scan(self, root: str, excluder: Excluder, start: str | None = None, *, recursive: bool = True) -> None:
        """Scan ``start`` (default: the folder) — its subfolders too when ``recursive``,
        and always the subfolders that are new to the cache."""
        stack = [(start or root, recursive)]
        while stack:
            if self.stop.is_set():
                raise Interrupted()
            directory, deep = stack.pop()
            for name, is_new in self._scan_dir(root, excluder, directory):
                if deep or is_new:
                    stack.append((join(directory, name), deep))
            self.on_dir()

    def _list_dir(self, excluder: Excluder, directory: str) -> list[tuple[str, os.stat_result, str]] | None:
        """(name, lstat, path) of every entry not excluded; [] if the folder is gone, None if unreadable."""
        items = []
        prefix = excluder.relative(directory)
        prefix = "" if prefix == "." else prefix + "/"
        also, match = excluder.also, excluder.match_rel
        try:
            with os.scandir(directory) as it:
                for de in it:
                    try:
                        name = de.name
                        _check_name(name)
                        is_dir = de.is_dir(follow_symlinks=False)
                        if match(prefix + name, is_dir) or (also and excluder.excluded(de.path, is_dir)):
                            continue
                        items.append((name, de.stat(follow_symlinks=False), de.path))
                    except (OSError, UnicodeEncodeError) as exc:
                        self.warn(de.path, exc)
        except FileNotFoundError:
            return []
        except OSError as exc:
            self.warn(directory, exc)
            return None
        return items

    def _scan_dir(self, root: str, excluder: Excluder, directory: str) -> list[tuple[str, bool]]:
        """Sync one directory's rows with the disk; its subfolders as (name, new to the cache)."""
        self.stats.dirs_scanned += 1
        items = self._list_dir(excluder, directory)
        if items is None:
            return []  # unreadable: keep what the cache has
        old = self.state.rows_in(directory)  # name -> raw row (see Entry), no objects for unchanged files
        changed, rows, subdirs, names = False, [], [], set()
        S_ISREG, S_ISDIR, S_IMODE = stat.S_ISREG, stat.S_ISDIR, stat.S_IMODE
        for name, st, path in items:
            mode = st.st_mode
            before = old.get(name)
            if S_ISREG(mode):
                names.add(name)
                self.stats.files_seen += 1
                # the fast path of an unchanged file: compare the stat with the raw row
                if before is not None and before[1] == "file" and before[7] is not None \
                        and before[5] == st.st_size and before[3] == st.st_mtime_ns and before[4] == st.st_ctime_ns \
                        and before[6] == st.st_ino and before[2] == S_IMODE(mode):
                    continue
                changed = True
                self.stats.files_changed += 1
                entry = Entry(name, "file", S_IMODE(mode), st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
                self.submit(directory, entry, Entry._make(before) if before is not None and before[1] == "file"
                            else None)
                continue
            try:
                entry = entry_from_stat(name, st, path)
            except OSError as exc:  # a symlink that vanished before readlink
                self.warn(path, exc)
                continue
            if entry is None:
                continue
            names.add(name)
            if S_ISDIR(mode):
                subdirs.append((name, before is None or before[1] != "dir"))
            if before is None or not Entry._make(before).same_meta(entry):
                changed = True
                rows.append(entry)
        gone = [name for name in old if name not in names]
        if gone:
            changed = True
            self.state.delete_entries(directory, gone)
        for name, st, _ in items:  # a folder became a file or link
            row = old.get(name)
            if row is not None and row[1] == "dir" and not S_ISDIR(st.st_mode) and name in names:
                self.state.forget_subtree(join(directory, name))
        if rows:
            self.state.put_entries(directory, rows)
        if changed:
            self.invalidate(directory, root)
        return sorted(subdirs)

    def refresh_entry(self, root: str, excluder: Excluder, path: str) -> None:
        """Update one folder's own row in its parent (its mtime moved) without scanning the parent."""
        if path == root or not path.startswith(root):
            return
        parent, name = os.path.split(path)
        try:
            entry = entry_from_stat(name, os.lstat(path), path)
        except OSError:
            return
        before = self.state.entries_in(parent).get(name)
        if entry is not None and entry.type == "dir" and (before is None or not before.same_meta(entry)):
            self.state.put_entries(parent, [entry])
            self.invalidate(parent, root)


def _check_name(name: str) -> None:
    name.encode("utf-8")  # undecodable names (surrogate escapes) cannot go into a tree's JSON


def folder_of(path: str, folders: list[str]) -> str | None:
    for folder in folders:
        if path == folder or path.startswith(folder.rstrip(os.sep) + os.sep):
            return folder
    return None


def nearest_dir(path: str, root: str) -> str:
    """``path`` if it is an existing folder, else its nearest existing folder at or below ``root``."""
    p = Path(path)
    while str(p) != root and len(str(p)) > len(root) and not p.is_dir():
        p = p.parent
    return str(p)
