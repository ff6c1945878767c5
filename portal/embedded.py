"""First-start setup of the embedded run: the folder under ``./var/`` and the
secret keys, written once (mode 0600) and kept. Deliberately free of Django
imports, since settings cannot load before the keys exist.

    python -m portal.embedded
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _write_once(path: Path, value: str) -> bool:
    if path.exists():
        return False
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return True


def init(var_dir: Path) -> list[str]:
    var_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if not os.environ.get("PORTAL_SECRET_KEY") and _write_once(var_dir / "secret_key", secrets.token_urlsafe(50)):
        written.append("secret_key")
    if not os.environ.get("PORTAL_MASTER_KEY") and _write_once(var_dir / "master_key", secrets.token_urlsafe(32)):
        written.append("master_key")
    return written


if __name__ == "__main__":
    var = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var")).resolve()
    for name in init(var):
        print(f"Generated {var / name} (keep it: it protects sessions and stored secrets).")
