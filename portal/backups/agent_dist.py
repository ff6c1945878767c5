"""The desktop agent as the portal hands it out: one wheel of ``sync_agent``
(pure Python, ``py3-none-any``) whose metadata pins the agent's dependencies,
so that one ``pip install coffer_agent-<version>-py3-none-any.whl`` brings the
compiled ones (blake3, zstandard, cryptography, pyfastcdc, watchdog) as the
wheels PyPI has for the user's system. A zipapp could carry only the pure
Python half and would still need that pip line.

Built by the Makefile (``python portal/backups/agent_dist.py var/agent``):
stdlib only, so it runs without Django and without a network, and
reproducible (fixed timestamps and order), so the same source always gives
the same SHA-256 on every portal server. ``manifest.json`` beside the wheel
names it with its version, size and SHA-256; the portal serves only files
that manifest names (``published``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = "manifest.json"
# The only names the portal ever serves: a wheel of the agent.
FILE_NAME = re.compile(r"coffer_agent-[0-9][0-9A-Za-z.+]*-py3-none-any\.whl")
_STAMP = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: no build time in the bytes


def _project(root: Path) -> dict:
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    init = (root / "sync_agent" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"', init, re.M)
    if found is None or found.group(1) != data["version"]:
        raise SystemExit(f"sync_agent.__version__ ({found and found.group(1)}) differs from pyproject.toml's "
                         f"version ({data['version']}); make them agree")
    return data


def _requirements(root: Path) -> list[str]:
    lines = (root / "sync_agent" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def _metadata(project: dict, requires: list[str]) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}",
             f"Summary: {project.get('description', '')}", f"Requires-Python: {project['requires-python']}"]
    lines += [f"Requires-Dist: {requirement}" for requirement in requires]
    return "\n".join(lines) + "\n"


def _entry_points(project: dict) -> str:
    scripts = "".join(f"{name} = {target}\n" for name, target in sorted(project.get("scripts", {}).items()))
    return f"[console_scripts]\n{scripts}"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def wheel_members(root: Path = ROOT) -> tuple[str, str, list[tuple[str, bytes]]]:
    """The wheel's file name, version and members (name, bytes), RECORD last."""
    project = _project(root)
    dist = re.sub(r"[-_.]+", "_", project["name"]).lower()
    version = project["version"]
    info = f"{dist}-{version}.dist-info"
    members = [(f"sync_agent/{path.name}", path.read_bytes())
               for path in sorted((root / "sync_agent").glob("*.py"))]
    members += [
        (f"{info}/METADATA", _metadata(project, _requirements(root)).encode()),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: coffer agent_dist\nRoot-Is-Purelib: true\n"
                          b"Tag: py3-none-any\n"),
        (f"{info}/entry_points.txt", _entry_points(project).encode()),
        (f"{info}/top_level.txt", b"sync_agent\n"),
    ]
    record = "\n".join([*(_record_line(name, data) for name, data in members), f"{info}/RECORD,,"]) + "\n"
    members.append((f"{info}/RECORD", record.encode()))
    return f"{dist}-{version}-py3-none-any.whl", version, members


def _write_zip(path: Path, members: list[tuple[str, bytes]]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_STAMP)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)


def _replace(folder: Path, name: str, write) -> None:
    """Write through a temporary file and rename: a reader never sees half a file."""
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o644)
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def build(out: Path, root: Path = ROOT) -> dict:
    """Build the wheel into ``out`` and write its manifest; returns the manifest's entry."""
    out.mkdir(parents=True, exist_ok=True)
    name, version, members = wheel_members(root)
    _replace(out, name, lambda path: _write_zip(path, members))
    data = (out / name).read_bytes()
    entry = {"name": name, "version": version, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
             "requires_python": _project(root)["requires-python"]}
    _replace(out, MANIFEST, lambda path: path.write_text(json.dumps({"files": [entry]}, indent=2) + "\n"))
    for old in out.glob("coffer_agent-*.whl"):  # an older version's wheel
        if old.name != name:
            old.unlink(missing_ok=True)
    return entry


def published(folder: Path) -> list[dict]:
    """The builds the manifest in ``folder`` names (only well-formed names that exist); [] if none."""
    try:
        files = json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("files") or []
    except (OSError, ValueError, AttributeError):
        return []
    return [entry for entry in files if isinstance(entry, dict) and FILE_NAME.fullmatch(str(entry.get("name", "")))
            and re.fullmatch(r"[0-9a-f]{64}", str(entry.get("sha256", ""))) and (folder / entry["name"]).is_file()]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python portal/backups/agent_dist.py OUTPUT_FOLDER")
    built = build(Path(sys.argv[1]))
    print(f"agent: {sys.argv[1].rstrip('/')}/{built['name']}  sha256 {built['sha256']}")
