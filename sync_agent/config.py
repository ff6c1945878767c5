"""Where the agent keeps its things, its settings (config.json) and its
credentials (OS keyring, else a file only the user can read)."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import NotEnrolled, UsageError

logger = logging.getLogger(__name__)

KEYRING_SERVICE = "coffer-agent"
KEYRING_TIMEOUT = 3.0


def agent_home() -> Path:
    """``COFFER_AGENT_HOME`` (tests, several agents side by side) or the platform's data folder."""
    override = os.environ.get("COFFER_AGENT_HOME")
    if override:
        home = Path(override).expanduser()
    else:
        import platformdirs

        home = Path(platformdirs.user_data_dir("coffer-agent", appauthor=False))
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home.resolve()


@dataclass
class Folder:
    path: str
    excludes: list[str] = field(default_factory=list)


@dataclass
class Config:
    server: str = ""
    device_id: str = ""
    name: str = ""
    hostname: str = ""
    pack_size: int = 16 * 1024 * 1024
    folders: list[Folder] = field(default_factory=list)
    limit_upload_kib: int = 0          # 0: no limit
    upload_threads: int = 4
    retries: int = 6                   # attempts per request before "unreachable"
    debounce_seconds: float = 1.0
    reconcile_seconds: int = 3600
    checkpoint_seconds: int = 180
    checkpoint_packs: int = 16
    credentials_in: str = ""           # "keyring" or "file"

    @property
    def enrolled(self) -> bool:
        return bool(self.server and self.device_id)

    def folder(self, path: str) -> Folder | None:
        return next((f for f in self.folders if f.path == path), None)


def config_path(home: Path) -> Path:
    return home / "config.json"


def load(home: Path) -> Config:
    path = config_path(home)
    if not path.exists():
        return Config()
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc
    folders = [Folder(**f) for f in raw.pop("folders", [])]
    known = set(Config.__dataclass_fields__)
    return Config(folders=folders, **{k: v for k, v in raw.items() if k in known})


def save(home: Path, config: Config) -> None:
    _write_private(config_path(home), json.dumps(asdict(config), indent=2, sort_keys=True))


def _write_private(path: Path, text: str) -> None:
    """Write atomically, readable by the user only (0600 from the start, never wider)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


# --- credentials ---------------------------------------------------------------------
@dataclass(frozen=True)
class Credentials:
    device_token: str
    id_key: str     # base64, as the portal sent it
    data_key: str
    key_set: str = ""   # the portal's id of these keys ("": enrolled before key sets had ids)
    # key set id -> {"id_key", "data_key"} of sets held before: older snapshots are sealed with them
    previous: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def _keyring_call(fn, *args):
    """Run a keyring call in a daemon thread with a deadline: a locked or absent
    Secret Service must not hang the agent. None when it fails or times out."""
    result: list = []

    def call():
        try:
            result.append(fn(*args))
        except Exception as exc:  # any backend failure means "no keyring"
            logger.debug("keyring: %s", exc)

    thread = threading.Thread(target=call, daemon=True, name="keyring")
    thread.start()
    thread.join(KEYRING_TIMEOUT)
    return result[0] if result else None


def _keyring():
    """The keyring module when a real backend is there, else None (quickly)."""
    if os.environ.get("COFFER_AGENT_KEYRING", "1") == "0":
        return None
    if sys.platform.startswith("linux") and not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return None  # no session bus: Secret Service cannot answer, don't wait for it
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    backend = _keyring_call(keyring.get_keyring)
    if backend is None or isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
        return None
    return keyring


def store_credentials(home: Path, creds: Credentials) -> str:
    """Keyring if there is one (keyed by the home folder), else ``credentials.json`` (0600)."""
    kr = _keyring()
    if kr is not None:
        _keyring_call(kr.set_password, KEYRING_SERVICE, str(home), creds.to_json())
        if _keyring_call(kr.get_password, KEYRING_SERVICE, str(home)) == creds.to_json():
            return "keyring"
    _write_private(home / "credentials.json", creds.to_json())
    return "file"


def load_credentials(home: Path, config: Config) -> Credentials:
    if not config.enrolled:
        raise NotEnrolled()
    text = None
    if config.credentials_in == "keyring":
        kr = _keyring()
        text = kr and _keyring_call(kr.get_password, KEYRING_SERVICE, str(home))
    if not text:
        try:
            text = (home / "credentials.json").read_text()
        except OSError as exc:
            raise NotEnrolled() from exc
    return Credentials(**json.loads(text))


def forget_credentials(home: Path) -> None:
    kr = _keyring()
    if kr is not None:
        _keyring_call(kr.delete_password, KEYRING_SERVICE, str(home))
    (home / "credentials.json").unlink(missing_ok=True)
