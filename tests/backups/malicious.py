"""Hand-made snapshot trees for the security tests: whatever a tampered
agent or a compromised portal could store, sealed with a device's keys and
uploaded through the real device API."""

from __future__ import annotations

from portal.backups import crypto

STAMP = 1_700_000_000_000_000_000


def file_entry(name: str, cid: str, size: int) -> dict:
    return {"name": name, "type": "file", "mode": 0o644, "mtime_ns": STAMP, "size": size, "chunks": [cid]}


def dir_entry(name: str, tree: str) -> dict:
    return {"name": name, "type": "dir", "mode": 0o755, "mtime_ns": STAMP, "tree": tree}


class Builder:
    """Hand-made trees of one device, sealed with its keys, uploaded in one pack."""

    def __init__(self, device):
        self.device = device
        self.blobs: dict[str, tuple] = {}

    def data(self, content: bytes) -> str:
        blob = self.device.blob(content)
        self.blobs[blob[0]] = blob
        return blob[0]

    def tree(self, entries: list[dict]) -> str:
        plaintext = crypto.tree_encode(entries)
        blob = self.device.blob(plaintext, kind="tree")
        self.blobs[blob[0]] = blob
        return blob[0]

    def upload(self) -> None:
        known = set(self.device.post("/backup/chunks/known", {"ids": list(self.blobs)}).json()["known"])
        fresh = [blob for cid, blob in self.blobs.items() if cid not in known]
        if fresh:
            self.device.upload_pack(fresh)
        self.blobs = {}

    def commit(self, root: str):
        self.upload()
        return self.device.post("/backup/snapshots", {
            "root": root, "started_at": "2026-01-01T10:00:00Z", "finished_at": "2026-01-01T10:01:00Z",
            "paths": ["/home/alice"], "hostname": "laptop"})
