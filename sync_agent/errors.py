"""The agent's errors: each class carries its message template and exit code;
``cli.main`` catches them once and exits with the code."""

from __future__ import annotations


class AgentError(Exception):
    """Base class. ``message`` is a template formatted with the keyword arguments."""

    exit_code = 1
    message = "{detail}"

    def __init__(self, detail: str = "", **fields):
        self.fields = {"detail": detail, **fields}
        super().__init__(self.message.format(**self.fields))


class UsageError(AgentError):
    exit_code = 2


class NotEnrolled(AgentError):
    exit_code = 3
    message = "this agent is not enrolled; run `coffer-agent enroll --server URL --token TOKEN` first"


class PortalUnreachable(AgentError):
    """The portal or the object store did not answer (after retries)."""

    exit_code = 4
    message = "cannot reach {what}: {detail}; the backup will be retried when it is back"

    def __init__(self, detail: str = "", what: str = "the portal"):
        super().__init__(detail, what=what)


class DeviceRevoked(AgentError):
    exit_code = 5
    message = ("this device was revoked on the portal ({detail}); ask an administrator, "
               "then enroll again with a new token")


class PortalRefused(AgentError):
    """The portal answered with an error (4xx) the agent cannot retry around."""

    exit_code = 6
    message = "the portal refused: {detail}"

    def __init__(self, detail: str = "", code: str = "", status: int = 0):
        super().__init__(detail, code=code, status=status)
        self.code = code
        self.status = status


class MissingChunks(PortalRefused):
    """The portal does not know chunks the agent believed it had (e.g. after GC)."""


class SnapshotNotFound(AgentError):
    exit_code = 7
    message = "no snapshot {detail!r} (see `coffer-agent snapshots`)"


class PathNotInSnapshot(AgentError):
    exit_code = 7
    message = "{detail!r} is not in the snapshot (see `coffer-agent ls SNAPSHOT`)"


class IntegrityError(AgentError):
    exit_code = 8
    message = "the backup is damaged: {detail}"


class RestoreFailed(AgentError):
    exit_code = 9
    message = "the restore did not finish: {detail}"


class UnsafeEntry(AgentError):
    """A snapshot's tree names something the agent will not write: it could
    land outside the restore target (a tampered backup, or a portal that lies)."""

    exit_code = 10
    message = "refused to restore {detail!r} ({reason}); the restore stopped there"

    def __init__(self, detail: str = "", reason: str = ""):
        super().__init__(detail, reason=reason)


class Interrupted(AgentError):
    exit_code = 130
    message = "stopped"
