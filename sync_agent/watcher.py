"""Filesystem events as hints (Syncthing's lesson): each event marks a folder
dirty in the persisted dirty set; the daemon rescans those folders after a
short quiet period. Lost events (inotify queue overflow, a dead observer)
turn into a rescan of the whole folder; a full reconciliation runs hourly
anyway."""

from __future__ import annotations

import logging
import os
import threading
import time

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from .scanner import Excluder, folder_of
from .state import Journal

logger = logging.getLogger(__name__)

IGNORED_EVENTS = {"opened", "closed_no_write"}


class Watcher:
    def __init__(self, folders: dict[str, Excluder], journal: Journal, home: str):
        self.folders, self.journal, self.home = folders, journal, home.rstrip(os.sep)
        self.changed = threading.Event()
        self.last_event = 0.0
        self.observer: Observer | None = None
        self._overflow_filter = _OverflowFilter(self)

    def start(self) -> None:
        self.observer = Observer()
        handler = _Handler(self)
        for path in self.folders:
            if os.path.isdir(path):
                self.observer.schedule(handler, path, recursive=True)
        self.observer.daemon = True
        self.observer.start()
        for name in ("watchdog.observers.inotify_c", "watchdog.observers.inotify"):
            logging.getLogger(name).addFilter(self._overflow_filter)

    def stop(self) -> None:
        for name in ("watchdog.observers.inotify_c", "watchdog.observers.inotify"):
            logging.getLogger(name).removeFilter(self._overflow_filter)
        if self.observer is not None:
            self.observer.stop()
            self.observer.join(timeout=5)
            self.observer = None

    def alive(self) -> bool:
        return self.observer is not None and self.observer.is_alive()

    def rescan_all(self, why: str) -> None:
        logger.warning("%s: rescanning every folder", why)
        self.mark([(path, True) for path in self.folders])

    def mark(self, dirs: list[tuple[str, bool]]) -> None:
        if dirs:
            self.journal.mark_dirty(dirs)
            self.last_event = time.monotonic()
            self.changed.set()

    def on_event(self, event: FileSystemEvent) -> None:
        if event.event_type in IGNORED_EVENTS:
            return
        marks = []
        paths = [os.fsdecode(event.src_path)]
        if getattr(event, "dest_path", ""):
            paths.append(os.fsdecode(event.dest_path))
        for path in paths:
            if path == self.home or path.startswith(self.home + os.sep):
                continue  # our own state files
            root = folder_of(path, list(self.folders))
            if root is None or self.folders[root].excluded_anywhere(path, event.is_directory):
                continue
            parent = os.path.dirname(path) if path != root else root
            marks.append((parent, False))
            if event.is_directory and event.event_type in ("created", "moved"):
                marks.append((path, True))
        self.mark(marks)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher):
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self.watcher.on_event(event)
        except Exception:  # a hint lost is a rescan, never a dead observer
            logger.exception("watcher event %s failed", event)
            self.watcher.rescan_all("a watcher event could not be handled")


class _OverflowFilter(logging.Filter):
    """watchdog only logs an inotify queue overflow; that log line is our signal."""

    def __init__(self, watcher: Watcher):
        super().__init__()
        self.watcher = watcher

    def filter(self, record: logging.LogRecord) -> bool:
        if "overflow" in record.getMessage().lower():
            self.watcher.rescan_all("events were lost (inotify queue overflow)")
        return True
