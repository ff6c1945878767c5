"""Progress: a rich live line on a terminal, a plain log line every few
seconds otherwise (services, pipes, tests)."""

from __future__ import annotations

import logging
import sys
import time

logger = logging.getLogger(__name__)
LOG_EVERY = 10.0
MiB = 1024 * 1024


class Progress:
    def __init__(self, enabled: bool | None = None):
        self.live = sys.stderr.isatty() if enabled is None else enabled
        self.counts = lambda: (0, 0)     # (files read, bytes read), from the pipeline
        self.uploaded = lambda: 0
        self.phase = ""
        self._rich = None
        self._task = None
        self._last_log = time.monotonic()

    def __enter__(self) -> "Progress":
        if self.live:
            from rich.progress import Progress as RichProgress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._rich = RichProgress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                      transient=True)
            self._rich.start()
            self._task = self._rich.add_task("starting")
        return self

    def __exit__(self, *exc) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        self.tick(force=True)

    def line(self) -> str:
        files, read_bytes = self.counts()
        return (f"{self.phase}: {files} files read, {read_bytes / MiB:.1f} MiB, "
                f"{self.uploaded() / MiB:.1f} MiB uploaded")

    def tick(self, force: bool = False) -> None:
        if self._rich is not None:
            self._rich.update(self._task, description=self.line())
            return
        now = time.monotonic()
        if force or now - self._last_log >= LOG_EVERY:
            self._last_log = now
            logger.info("%s", self.line())
