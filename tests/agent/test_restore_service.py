"""Restoring from tree objects (modes, mtimes, symlinks, empty folders, overwrite
rules) and the service files — no portal: blobs come from a dict of sealed blobs."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from sync_agent import crypto, tree
from sync_agent.restore import Repository, Restorer

KEYS = crypto.Keys(bytes(range(32)), bytes(range(32, 64)))
T1 = 1_500_000_000_000_000_001
T2 = 1_600_000_000_000_000_002


class StoredBlobs(Repository):
    """A repository whose blobs are sealed for real and kept in a dict instead of packs."""

    def __init__(self):
        super().__init__(client=None, keys=KEYS)
        self.blobs = {}

    def put(self, plaintext: bytes) -> str:
        cid = crypto.chunk_id(KEYS, plaintext)
        self.blobs[cid] = crypto.seal(KEYS, cid, plaintext)
        return cid

    def put_tree(self, entries) -> str:
        return self.put(tree.encode(entries))

    def locate(self, ids):
        pass

    def blob(self, cid):
        return crypto.unseal(KEYS, cid, self.blobs[cid])

    def file_data(self, ids):
        for cid in ids:
            yield self.blob(cid)


@pytest.fixture
def repo():
    r = StoredBlobs()
    empty = r.put_tree([])
    big = [r.put(b"a" * 1000), r.put(b"b" * 10)]
    inner = r.put_tree([
        {"name": "script.sh", "type": "file", "mode": 0o750, "mtime_ns": T1, "size": 6, "chunks": [r.put(b"echo 1")]},
        {"name": "empty", "type": "dir", "mode": 0o700, "mtime_ns": T2, "tree": empty},
    ])
    r.root = r.put_tree([
        {"name": "big.bin", "type": "file", "mode": 0o600, "mtime_ns": T2, "size": 1010, "chunks": big},
        {"name": "none.txt", "type": "file", "mode": 0o644, "mtime_ns": T1, "size": 0, "chunks": []},
        {"name": "link", "type": "symlink", "mode": 0o777, "mtime_ns": T1, "target": "big.bin"},
        {"name": "readonly", "type": "dir", "mode": 0o555, "mtime_ns": T1, "tree": inner},
    ])
    return r


def test_restore_brings_back_contents_modes_mtimes_links_and_empty_folders(repo, tmp_path):
    stats = Restorer(repo).restore(repo.root, "/", tmp_path / "out")
    out = tmp_path / "out"
    assert (out / "big.bin").read_bytes() == b"a" * 1000 + b"b" * 10
    assert stat.S_IMODE(os.stat(out / "big.bin").st_mode) == 0o600
    assert os.stat(out / "big.bin").st_mtime_ns == T2
    assert (out / "none.txt").read_bytes() == b""
    assert os.readlink(out / "link") == "big.bin"
    assert os.lstat(out / "link").st_mtime_ns == T1
    assert stat.S_IMODE(os.stat(out / "readonly").st_mode) == 0o555
    assert os.stat(out / "readonly").st_mtime_ns == T1
    assert stat.S_IMODE(os.stat(out / "readonly" / "script.sh").st_mode) == 0o750
    assert (out / "readonly" / "empty").is_dir() and not any((out / "readonly" / "empty").iterdir())
    assert os.stat(out / "readonly" / "empty").st_mtime_ns == T2
    assert (stats.files, stats.symlinks, stats.dirs) == (3, 1, 2)
    os.chmod(out / "readonly", 0o755)  # let tmp_path be cleaned up


def test_restore_of_one_path_lands_under_its_name(repo, tmp_path):
    Restorer(repo).restore(repo.root, "readonly/script.sh", tmp_path)
    assert (tmp_path / "script.sh").read_bytes() == b"echo 1"


def test_if_changed_skips_a_file_that_matches_and_never_keeps_local_edits(repo, tmp_path):
    Restorer(repo).restore(repo.root, "big.bin", tmp_path)
    again = Restorer(repo, "if-changed").restore(repo.root, "big.bin", tmp_path)
    assert (again.files, again.unchanged) == (0, 1)
    (tmp_path / "big.bin").write_bytes(b"local")
    Restorer(repo, "never").restore(repo.root, "big.bin", tmp_path)
    assert (tmp_path / "big.bin").read_bytes() == b"local"
    Restorer(repo, "always").restore(repo.root, "big.bin", tmp_path)
    assert (tmp_path / "big.bin").read_bytes() == b"a" * 1000 + b"b" * 10


def test_a_path_not_in_the_snapshot_is_a_clear_error(repo, tmp_path):
    from sync_agent.errors import PathNotInSnapshot

    with pytest.raises(PathNotInSnapshot):
        Restorer(repo).restore(repo.root, "no/such/thing", tmp_path)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the systemd unit is Linux's")
def test_install_service_writes_a_systemd_user_unit_for_run(tmp_path):
    import subprocess

    env = {**os.environ, "HOME": str(tmp_path), "COFFER_AGENT_HOME": str(tmp_path / "agent"),
           "PATH": "/nonexistent"}  # no systemctl: the file is written, nothing is called
    env.pop("XDG_CONFIG_HOME", None)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    run = [sys.executable, "-m", "sync_agent"]
    done = subprocess.run([*run, "install-service"], env={**env, "PYTHONPATH": root}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    unit = tmp_path / ".config" / "systemd" / "user" / "coffer-agent.service"
    text = unit.read_text()
    assert f"ExecStart={sys.executable} -m sync_agent run" in text
    assert f'Environment="COFFER_AGENT_HOME={tmp_path / "agent"}"' in text
    assert "WantedBy=default.target" in text
    done = subprocess.run([*run, "uninstall-service"], env={**env, "PYTHONPATH": root}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not unit.exists()


def test_the_launchd_plist_and_the_windows_task_run_the_daemon():
    import plistlib

    from sync_agent import service

    plist = plistlib.loads(service.launchd_plist())
    assert plist["ProgramArguments"][-2:] == ["sync_agent", "run"] and plist["RunAtLoad"]
    command = service.schtasks_command()
    assert command[:2] == ["schtasks", "/Create"] and "ONLOGON" in command and "run" in command[-1]
