"""``verify``: every snapshot's trees resolve and decrypt, every chunk is in
the portal's index, and (``--read-data-subset``) a random share of the data
chunks is downloaded, decrypted and checked against its id."""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass

from .restore import Repository

logger = logging.getLogger(__name__)


@dataclass
class VerifyReport:
    snapshots: int = 0
    trees: int = 0
    chunks: int = 0
    read: int = 0


def verify(repo: Repository, percent: float = 0.0) -> VerifyReport:
    report = VerifyReport()
    seen_trees: set[str] = set()
    data: set[str] = set()
    for snap in repo.client.snapshots():
        report.snapshots += 1
        stack = [snap["root"]]
        while stack:
            tid = stack.pop()
            if tid in seen_trees:
                continue
            seen_trees.add(tid)
            for e in repo.tree(tid):  # downloads, decrypts, checks the id
                if e["type"] == "dir":
                    stack.append(e["tree"])
                elif e["type"] == "file":
                    data.update(e.get("chunks", []))
    report.trees, report.chunks = len(seen_trees), len(data)
    ids = sorted(data)
    repo.locate(ids)  # raises IntegrityError naming missing chunks
    if percent > 0 and ids:
        sample = random.sample(ids, min(len(ids), math.ceil(len(ids) * percent / 100)))
        for cid in sample:
            repo.blob(cid)
            report.read += 1
    logger.info("verified %d snapshots, %d trees, %d chunks (%d read)", report.snapshots, report.trees,
                report.chunks, report.read)
    return report
