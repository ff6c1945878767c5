"""``run``: the watcher plus periodic reconciliation, until SIGTERM.

Events only mark folders dirty (persisted); after ``debounce_seconds`` of
quiet the dirty folders are rescanned and a snapshot re-using every
unchanged tree is committed. A full scan runs at start and every
``reconcile_seconds``. When the portal or the store is unreachable the dirty
set is kept and the run is retried with backoff — no busy loop."""

from __future__ import annotations

import logging
import signal
import threading
import time

from .errors import AgentError, DeviceRevoked, Interrupted, PortalUnreachable
from .watcher import Watcher

logger = logging.getLogger(__name__)

BACKOFF_FIRST = 5.0
BACKOFF_MAX = 300.0
IDLE_WAKE = 5.0


class Daemon:
    def __init__(self, agent, stop: threading.Event):
        self.agent, self.stop = agent, stop
        self.backoff = 0.0
        self.retry_at = 0.0
        self.next_full = 0.0
        self.watcher: Watcher | None = None

    def _on_signal(self, signum, _frame) -> None:
        logger.info("received %s: finishing the current pack, then exiting", signal.Signals(signum).name)
        self.stop.set()
        if self.watcher is not None:
            self.watcher.changed.set()

    def _start_watcher(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        folders = {f.path: self.agent.excluder(f) for f in self.agent.config.folders}
        self.watcher = Watcher(folders, self.agent.journal, str(self.agent.home))
        self.watcher.start()

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self._start_watcher()
        logger.info("watching %d folders", len(self.agent.config.folders))
        try:
            while not self.stop.is_set():
                self._step()
        finally:
            self.watcher.stop()
        logger.info("stopped cleanly")
        return 0

    def _step(self) -> None:
        now = time.monotonic()
        if not self.watcher.alive():
            logger.warning("the watcher stopped; restarting it and rescanning")
            self._start_watcher()
            self.next_full = 0.0
        if self.agent.config_changed() and self.agent.reload_config():
            logger.info("the folders changed: %s", ", ".join(f.path for f in self.agent.config.folders) or "none")
            self._start_watcher()
            self.next_full = 0.0
        debounce = self.agent.config.debounce_seconds
        quiet = now - self.watcher.last_event
        if now >= self.retry_at:
            if now >= self.next_full:
                self._backup(full=True)
                return
            if self.agent.journal.dirty_count() and quiet >= debounce:
                self._backup(full=False)
                return
        wake = [self.next_full - now, IDLE_WAKE]
        if self.retry_at > now:
            wake.append(self.retry_at - now)
        elif self.agent.journal.dirty_count():
            wake.append(max(0.05, debounce - quiet))
        self.watcher.changed.clear()
        self.watcher.changed.wait(max(0.05, min(wake)))

    def _backup(self, *, full: bool) -> None:
        dirty, mark = self.agent.journal.dirty()
        if full and self.agent.reload_config():
            self._start_watcher()  # folders were added or removed
        if not self.agent.config.folders:
            self.next_full = time.monotonic() + self.agent.config.reconcile_seconds
            return  # nothing to back up yet: `add` a folder (seen within IDLE_WAKE seconds)
        if full:
            self.agent.forget_device()  # a full run asks the portal again (excludes, key set)
        try:
            summary = self.agent.backup(stop=self.stop).run(None if full else dirty, skip_unchanged=not full)
        except Interrupted:
            return
        except DeviceRevoked:
            raise
        except PortalUnreachable as exc:
            self._retry_later(exc)
            return
        except AgentError as exc:
            self.agent.report_failure(exc)
            self._retry_later(exc)
            return
        self.agent.journal.clear_dirty(mark)
        self.backoff = 0.0
        if full:
            self.next_full = time.monotonic() + self.agent.config.reconcile_seconds
        if summary.snapshot:
            logger.info("snapshot %s: %d files, %d read, %d bytes uploaded, %d skipped, %.2f s",
                        summary.snapshot, summary.files, summary.files_read, summary.added_bytes,
                        summary.skipped, summary.seconds)

    def _retry_later(self, exc: Exception) -> None:
        self.backoff = min(BACKOFF_MAX, self.backoff * 2 or BACKOFF_FIRST)
        self.retry_at = time.monotonic() + self.backoff
        logger.warning("backup failed (%s); retrying in %.0f s", exc, self.backoff)
