"""Real WebDAV clients from Debian against a live portal: rclone copies a
tree in and out byte for byte; cadaver locks, edits and unlocks a document.
Each is skipped, saying so, when its binary is missing."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from portal.files.models import Node
from portal.locks.models import Lock

RCLONE = shutil.which("rclone")
CADAVER = shutil.which("cadaver")


def make_tree(root: Path) -> dict[str, str]:
    """A small tree with nested folders, an empty file, UTF-8 names and a
    few MiB of random bytes; {relative path: sha256}."""
    files = {
        "readme.txt": b"hello\n",
        "empty.bin": b"",
        "docs/Grüße 世界.md": "# Grüße\n".encode(),
        "docs/deep/er/nested.bin": os.urandom(300_000),
        "media/big.bin": os.urandom(6 * 1024 * 1024 + 123),
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "empty-folder").mkdir()
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def digests(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in root.rglob("*") if path.is_file()}


def rclone(*args: str, url: str, user: str, token: str, config_dir: Path) -> subprocess.CompletedProcess:
    obscured = subprocess.run([RCLONE, "obscure", token], check=True, capture_output=True, text=True).stdout.strip()
    env = {**os.environ, "RCLONE_CONFIG": str(config_dir / "rclone.conf"), "RCLONE_CONFIG_COFFER_TYPE": "webdav",
           "RCLONE_CONFIG_COFFER_URL": url, "RCLONE_CONFIG_COFFER_VENDOR": "other",
           "RCLONE_CONFIG_COFFER_USER": user, "RCLONE_CONFIG_COFFER_PASS": obscured}
    return subprocess.run([RCLONE, *args, "--retries", "1", "--low-level-retries", "1"],
                          check=False, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


@pytest.mark.skipif(RCLONE is None, reason="rclone is not installed (apt-get install rclone)")
def test_rclone_copies_a_tree_in_and_out_byte_for_byte(live_dav, alice_dav, team, tmp_path):
    source, back = tmp_path / "source", tmp_path / "back"
    source.mkdir()
    expected = make_tree(source)
    user, token = alice_dav.auth
    common = {"url": live_dav.dav(f"/{team.slug}/"), "user": user, "token": token, "config_dir": tmp_path}

    sent = rclone("copy", str(source), "coffer:upload", "--create-empty-src-dirs", **common)
    assert sent.returncode == 0, sent.stderr
    assert Node.objects.filter(space=team, name="empty-folder", kind="folder").exists()
    got = rclone("copy", "coffer:upload", str(back), "--create-empty-src-dirs", **common)
    assert got.returncode == 0, got.stderr

    assert digests(back) == expected
    assert (back / "empty-folder").is_dir()
    checked = rclone("check", str(source), "coffer:upload", "--download", **common)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.skipif(CADAVER is None, reason="cadaver is not installed (apt-get install cadaver)")
def test_cadaver_locks_edits_and_unlocks_a_document(live_dav, alice_dav, team, tmp_path):
    user, token = alice_dav.auth
    (tmp_path / ".netrc").write_text(f"machine 127.0.0.1 login {user} password {token}\n")
    (tmp_path / ".netrc").chmod(0o600)
    local = tmp_path / "report.odt"
    local.write_bytes(b"version one")
    edited = tmp_path / "edited.odt"
    edited.write_bytes(b"version two, edited while locked")
    script = tmp_path / "script"
    script.write_text(f"put {local} report.odt\nlock report.odt\ndiscover report.odt\n"
                      f"put {edited} report.odt\nunlock report.odt\nquit\n")

    done = subprocess.run([CADAVER, "-r", str(script), live_dav.dav(f"/{team.slug}/")], check=False, cwd=tmp_path,
                          env={**os.environ, "HOME": str(tmp_path)}, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    output = done.stdout + done.stderr
    assert "Locking `report.odt': succeeded" in output, output
    assert "Unlocking `report.odt': succeeded" in output, output
    assert output.count("Uploading") == 2 and "failed" not in output.lower(), output
    node = Node.objects.get(space=team, name="report.odt")
    assert node.versions.count() == 2
    assert not Lock.objects.filter(node=node).exists()
