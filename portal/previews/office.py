"""Office documents to PDF with LibreOffice headless.

Each run gets its own LibreOffice profile (two conversions sharing one would
wait on each other's lock, or fail), a time limit after which the whole
process group is killed (soffice is a wrapper that starts soffice.bin), and
an address-space limit set in the child before it starts. The profile
blocks every link a document makes to the outside (see _PROFILE_SETTINGS).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings

from portal.core.errors import PortalError


class OfficeUnavailable(PortalError):
    status = 501
    code = "office_unavailable"


class ConversionFailed(PortalError):
    status = 422
    code = "conversion_failed"


# The profile's settings: a document may not load anything it only links to
# (an image at http://169.254.169.254/... or file:///..., a linked section),
# which LibreOffice otherwise fetches while converting and draws into the
# PDF: a server-side request forgery and a local file read. Macros never run.
_PROFILE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" \
oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" \
oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" \
oor:op="fuse"><value>3</value></prop></item>
</oor:items>
"""


def soffice_path() -> str | None:
    """LibreOffice's command, or None when this machine has none."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def _limit_memory(megabytes: int):
    limit = megabytes * 1024 * 1024

    def apply():  # runs in the child, before exec
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def convert_to_pdf(source: Path, *, timeout: int | None = None, memory_mb: int | None = None) -> bytes:
    """The PDF LibreOffice makes of ``source`` (a file whose suffix names its
    format). OfficeUnavailable without LibreOffice; ConversionFailed when it
    fails, runs out of time or memory."""
    command = soffice_path()
    if command is None:
        raise OfficeUnavailable("LibreOffice is not installed on this server, so Office documents cannot be "
                                "shown; download the file instead.")
    timeout = settings.OFFICE_TIMEOUT if timeout is None else timeout
    memory_mb = settings.OFFICE_MEMORY_MB if memory_mb is None else memory_mb
    with tempfile.TemporaryDirectory(prefix="coffer-office-") as work:
        profile, out = Path(work) / "profile", Path(work) / "out"
        out.mkdir()
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(_PROFILE_SETTINGS, encoding="utf-8")
        args = [command, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                "--nolockcheck", "--nodefault", "--nologo", "--convert-to", "pdf", "--outdir", str(out), str(source)]
        _run(args, timeout=timeout, memory_mb=memory_mb, cwd=work)
        produced = out / (source.stem + ".pdf")
        if not produced.is_file() or produced.stat().st_size == 0:
            raise ConversionFailed("LibreOffice could not read this document.")
        return produced.read_bytes()


def _run(args: list[str], *, timeout: int, memory_mb: int, cwd: str) -> None:
    env = {**os.environ, "HOME": cwd, "SAL_USE_VCLPLUGIN": "svp"}
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               cwd=cwd, env=env, start_new_session=True, preexec_fn=_limit_memory(memory_mb))
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise ConversionFailed(f"LibreOffice took longer than {timeout} s on this document and was stopped.",
                               detail={"timeout": timeout}) from None
    finally:
        _kill_group(process)  # helpers left behind by soffice.bin go too
    if process.returncode != 0:
        tail = output.decode("utf-8", "replace").strip()[-200:]
        raise ConversionFailed(f"LibreOffice failed on this document (exit {process.returncode}): {tail}")


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    if process.returncode is None:
        process.communicate()
