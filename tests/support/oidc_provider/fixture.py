"""The ``oidc_provider`` session fixture: the test identity provider as its own
process on a free loopback port, its data in a temp folder; stopped (and the
folder removed) at the end of the session. Registered from tests/conftest.py."""

from __future__ import annotations

import secrets
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[3]
START_DEADLINE = 60
CLIENT_ID = "coffer-test"
CLIENT_SECRET = "coffer-test-secret-" + "c" * 24


@dataclass
class Provider:
    """A running test identity provider and the calls a test makes on it."""

    url: str
    control_token: str
    process: subprocess.Popen
    log_path: Path
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET

    def endpoint(self, name: str) -> str:
        return {"authorization": f"{self.url}/o/authorize/", "token": f"{self.url}/o/token/",
                "userinfo": f"{self.url}/o/userinfo/", "jwks": f"{self.url}/o/.well-known/jwks.json",
                "end_session": f"{self.url}/o/logout/"}[name]

    @property
    def issuer(self) -> str:
        return f"{self.url}/o"

    def _control(self, what: str, data: dict) -> dict:
        response = requests.post(f"{self.url}/control/{what}", json=data, timeout=10,
                                 headers={"Authorization": f"Bearer {self.control_token}"})
        response.raise_for_status()
        return response.json()

    def user_set(self, username: str, **fields) -> dict:
        """Creates or changes a user there (password, email, first_name, groups, active, rename_to); returns its sub."""
        return self._control("user", {"username": username, **fields})

    def client_set(self, *, redirect_uris: list[str], post_logout_redirect_uris: list[str] = ()) -> dict:
        return self._control("client", {"client_id": self.client_id, "client_secret": self.client_secret,
                                        "redirect_uris": list(redirect_uris),
                                        "post_logout_redirect_uris": list(post_logout_redirect_uris)})

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _wait_ready(process: subprocess.Popen, log_path: Path) -> int:
    deadline = time.monotonic() + START_DEADLINE
    with selectors.DefaultSelector() as waiting:
        waiting.register(process.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not waiting.select(timeout=left):
                continue
            line = process.stdout.readline()  # the provider's only stdout line, flushed whole
            if line.startswith("READY "):
                return int(line.split()[1])
            if not line and process.poll() is not None:
                break
    _stop(process)
    raise RuntimeError(f"the test identity provider did not start:\n{log_path.read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def oidc_provider():
    data_dir = Path(tempfile.mkdtemp(prefix="coffer-idp-"))
    log_path = data_dir / "idp.log"
    token = secrets.token_urlsafe(24)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.oidc_provider", str(data_dir)], cwd=ROOT, stdout=subprocess.PIPE,
            stderr=log, text=True, env={**_clean_env(), "IDP_CONTROL_TOKEN": token})
    try:
        port = _wait_ready(process, log_path)
        yield Provider(url=f"http://127.0.0.1:{port}", control_token=token, process=process, log_path=log_path)
    finally:
        _stop(process)
        shutil.rmtree(data_dir, ignore_errors=True)


def _clean_env() -> dict:
    """The environment without Coffer's Django settings (the provider is its own project)."""
    import os

    return {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE" and not k.startswith("PORTAL_")}
