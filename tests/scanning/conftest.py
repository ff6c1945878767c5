"""A clamd of the tests' own (never the system service) on a unix socket in
a temporary folder, with a signature database written here: no freshclam,
no network, and detection is real.

Without clamd installed the tests that need it are skipped, saying so, or
fail with PORTAL_TEST_REQUIRE_SERVICES=1 (CI; .ci/run installs clamav-daemon).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.files.conftest import member_of, signed_in, team, upload  # noqa: F401 - shared fixtures
from tests.shares.conftest import _quick_hashes_and_own_cache, share, shared_folder, visitor  # noqa: F401

# Harmless bytes the tests' database calls malware: once by their exact hash
# (.hdb), and anywhere inside a file by a body signature (.ndb).
INFECTED = b"COFFER-SCANNER-TEST-PAYLOAD/" * 8 + b"not really a virus\n"
MARKER = b"COFFER-BODY-MARKER-7f3a9c"
# clamd reports signatures outside the official databases with ".UNOFFICIAL".
HASH_SIGNATURE = "Coffer.Test.Payload.UNOFFICIAL"
BODY_SIGNATURE = "Coffer.Test.Body.UNOFFICIAL"
CLEAN = b"nothing to see here\n" * 100
CLAMD = shutil.which("clamd") or next((p for p in ("/usr/sbin/clamd",) if os.path.exists(p)), None)
REQUIRED = os.environ.get("PORTAL_TEST_REQUIRE_SERVICES") == "1"


def _write_database(folder: Path) -> None:
    folder.mkdir()
    hash_name, body_name = (name.removesuffix(".UNOFFICIAL") for name in (HASH_SIGNATURE, BODY_SIGNATURE))
    (folder / "coffer.hdb").write_text(f"{hashlib.md5(INFECTED).hexdigest()}:{len(INFECTED)}:{hash_name}\n")
    (folder / "coffer.ndb").write_text(f"{body_name}:0:*:{MARKER.hex()}\n")


def _pongs(socket_path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(str(socket_path))
            sock.sendall(b"zPING\0")
            return sock.recv(16).startswith(b"PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def clamd_socket():
    """The socket path of a running clamd that knows the tests' signatures."""
    if CLAMD is None:
        message = "CLAMD MISSING: content-scanning tests against clamd skipped (apt-get install clamav-daemon)"
        if REQUIRED:
            pytest.fail(f"PORTAL_TEST_REQUIRE_SERVICES=1 but {message}")
        print(f"\n*** {message} ***")
        pytest.skip(message)
    # A short path: unix socket paths are limited to ~107 bytes.
    root = Path(tempfile.mkdtemp(prefix="coffer-clamd-"))
    _write_database(root / "db")
    socket_path = root / "clamd.sock"
    config = root / "clamd.conf"
    config.write_text("\n".join([
        "Foreground yes", f"LocalSocket {socket_path}", f"DatabaseDirectory {root / 'db'}",
        f"TemporaryDirectory {root}", f"LogFile {root / 'clamd.log'}", "StreamMaxLength 10M",
        "SelfCheck 0", "ReadTimeout 30", ""]))
    process = subprocess.Popen([CLAMD, "--config-file", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _pongs(socket_path):
            if process.poll() is not None or time.monotonic() > deadline:
                log = (root / "clamd.log").read_text() if (root / "clamd.log").exists() else ""
                pytest.fail(f"clamd did not start (exit {process.returncode}):\n{log[-2000:]}")
            time.sleep(0.1)
        yield str(socket_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def clamd(settings, clamd_socket):
    settings.CLAMD_SOCKET = clamd_socket
    settings.CLAMD_HOST = ""
    return clamd_socket


@pytest.fixture
def no_clamd(settings):
    settings.CLAMD_SOCKET, settings.CLAMD_HOST = "", ""


@pytest.fixture
def clamd_down(settings, tmp_path):
    """clamd is configured but nothing listens there."""
    settings.CLAMD_SOCKET = str(tmp_path / "nobody-listens.sock")
    settings.CLAMD_HOST = ""
