"""``install-service`` / ``uninstall-service``: run ``coffer-agent run`` at
login — a systemd user unit, a launchd agent or a Windows scheduled task."""

from __future__ import annotations

import logging
import os
import plistlib
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

UNIT_NAME = "coffer-agent.service"
LAUNCHD_LABEL = "com.coffer.agent"
TASK_NAME = "CofferAgent"


def run_command() -> list[str]:
    return [sys.executable, "-m", "sync_agent", "run"]


def _environment() -> dict[str, str]:
    env = {"PYTHONUNBUFFERED": "1"}
    if os.environ.get("COFFER_AGENT_HOME"):
        env["COFFER_AGENT_HOME"] = os.environ["COFFER_AGENT_HOME"]
    package_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = package_root  # `-m sync_agent` works without installing the package
    return env


def systemd_unit() -> str:
    env = "".join(f'Environment="{k}={v}"\n' for k, v in sorted(_environment().items()))
    return (
        "[Unit]\nDescription=Coffer backup agent\nAfter=network-online.target\n\n"
        "[Service]\nType=simple\n"
        f"ExecStart={shlex.join(run_command())}\n{env}"
        "Restart=on-failure\nRestartSec=30\nKillSignal=SIGTERM\nTimeoutStopSec=120\n\n"
        "[Install]\nWantedBy=default.target\n")


def launchd_plist() -> bytes:
    return plistlib.dumps({
        "Label": LAUNCHD_LABEL, "ProgramArguments": run_command(), "EnvironmentVariables": _environment(),
        "RunAtLoad": True, "KeepAlive": {"SuccessfulExit": False}, "ProcessType": "Background",
    })


def schtasks_command() -> list[str]:
    return ["schtasks", "/Create", "/F", "/SC", "ONLOGON", "/TN", TASK_NAME, "/TR",
            subprocess.list2cmdline(run_command())]


def unit_path() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "systemd" / "user" / UNIT_NAME


def install() -> str:
    if sys.platform == "win32":
        subprocess.run(schtasks_command(), check=True)
        return f"scheduled task {TASK_NAME}"
    path = unit_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if sys.platform == "darwin":
        path.write_bytes(launchd_plist())
        _maybe("launchctl", "load", "-w", str(path))
    else:
        path.write_text(systemd_unit())
        _maybe("systemctl", "--user", "daemon-reload")
        logger.info("enable it with: systemctl --user enable --now %s", UNIT_NAME)
    return str(path)


def uninstall() -> str:
    if sys.platform == "win32":
        subprocess.run(["schtasks", "/Delete", "/F", "/TN", TASK_NAME], check=True)
        return f"scheduled task {TASK_NAME}"
    path = unit_path()
    if sys.platform == "darwin":
        _maybe("launchctl", "unload", str(path))
    else:
        _maybe("systemctl", "--user", "disable", "--now", UNIT_NAME)
    path.unlink(missing_ok=True)
    if sys.platform != "darwin":
        _maybe("systemctl", "--user", "daemon-reload")
    return str(path)


def _maybe(*command: str) -> None:
    """Run a service manager command when that manager exists; its failure is only logged
    (no user session bus in a container, say)."""
    if shutil.which(command[0]) is None:
        return
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("%s: %s", " ".join(command), exc)
        return
    if result.returncode:
        logger.warning("%s failed: %s", " ".join(command), (result.stderr or result.stdout).strip()[:300])
