"""Fixtures for the import tests: an administrator who owns a team space, a
source folder under PORTAL_IMPORT_ROOTS, a SeaweedFS source bucket, and a
real WebDAV server (`rclone serve webdav`, Debian's rclone) over a folder."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from datetime import datetime, timezone as dt_timezone
from pathlib import Path

import pytest
import requests

from portal.files.models import Node
from portal.files.selectors import path_walk
from portal.spaces.services import space_create


@pytest.fixture
def boss(make_user):
    return make_user(username="boss", is_staff=True, is_superuser=True)


@pytest.fixture
def space(boss):
    """A team space the administrator owns (so the import may write it)."""
    return space_create(actor=boss, name="Migrated")


@pytest.fixture
def roots(tmp_path, settings):
    """The folder imports may read: tmp_path/roots (its resolved path in IMPORT_ROOTS)."""
    root = tmp_path / "roots"
    root.mkdir()
    settings.IMPORT_ROOTS = [str(root)]
    return root


def write(folder: Path, relative: str, data: bytes, mtime: datetime | None = None) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def when(year: int, month: int = 1, day: int = 1, second: int = 0) -> datetime:
    return datetime(year, month, day, 12, 0, second, tzinfo=dt_timezone.utc)


def node_at(space, path: str) -> Node | None:
    """The live node at ``path`` in ``space``, or None."""
    names = [name for name in path.split("/") if name]
    chain = path_walk(space, names)
    return chain[-1] if len(chain) > len(names) else None


def file_bytes(node: Node) -> bytes:
    from portal.storage import get_store

    with get_store().open(node.current_version.blob.key) as stream:
        return stream.read()


@pytest.fixture
def bucket(seaweed):
    """A fresh source bucket in the session's SeaweedFS: (name, boto3 client)."""
    client = seaweed.client()
    name = f"src-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name, client


def s3_source(seaweed, bucket_name: str, prefix: str = "") -> dict:
    return {"endpoint": seaweed.endpoint_url, "bucket": bucket_name, "prefix": prefix, "region": seaweed.region,
            "access_key": seaweed.access_key}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def webdav(tmp_path):
    """`rclone serve webdav` over tmp_path/dav on a free loopback port, with a
    user and password: (folder, url, username, password). Stopped after."""
    rclone = shutil.which("rclone")
    if rclone is None:
        pytest.fail("rclone is not installed (apt-get install rclone)")
    folder = tmp_path / "dav"
    folder.mkdir()
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    process = subprocess.Popen([rclone, "serve", "webdav", str(folder), "--addr", f"127.0.0.1:{port}",
                                "--user", "ann", "--pass", "dav-secret", "--config", "/dev/null",
                                "--dir-cache-time", "0s"],  # list what is on disk now, not 5 minutes ago
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.request("PROPFIND", url, auth=("ann", "dav-secret"), headers={"Depth": "0"},
                                    timeout=1).status_code == 207:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "rclone serve webdav did not answer within 20 s"
            time.sleep(0.1)  # polling the server's port until the deadline
        yield folder, url, "ann", "dav-secret"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
