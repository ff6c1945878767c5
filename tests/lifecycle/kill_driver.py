"""Runs one lifecycle job in a process of its own and SIGKILLs that process
at a named step, for tests/lifecycle/test_kills.py. No production hooks:
the function at the step is wrapped here, after django.setup().

    python tests/lifecycle/kill_driver.py <kind> <step>      (then "<now, ISO 8601>\n" on stdin)

kind: ``large`` (a blob moved alone), ``packed`` (small blobs packed into a
container), ``compaction`` (sparse containers rewritten). The job is
runs.tiering_run(now=...) or runs.containers_compact(now=...); for the step
``superseded_delete`` it is sweeps.superseded_delete(now=...). Django is
set up before the time is read from stdin, so a test can start the driver
first and store its files meanwhile.

The line ``killed at <step>: <what>`` on stdout says where the process died.
Exit status 3: the job finished without ever reaching the step.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import datetime

MiB = 1024 * 1024
PART_DEADLINE = 20   # seconds to wait for the store to hold a part of a multipart copy


def die(step: str, what: str) -> None:
    from django.db import connection

    sys.stdout.write(f"killed at {step}: {what} (in transaction: {connection.in_atomic_block})\n")
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _ours(kind: str, key: str) -> bool:
    """Is ``key`` (in the cold tier) the kind of copy this run kills: a blob's own or a container."""
    return ("/packs/" in key) == (kind != "large")


class _KillingReader:
    """The source as the store reads it during a put: dies once ``after``
    bytes were read and the store holds a part of the multipart upload."""

    def __init__(self, fileobj, *, store, key: str, after: int):
        self._fileobj, self._store, self._key, self._after, self.count = fileobj, store, key, after, 0

    def read(self, size: int = -1) -> bytes:
        data = self._fileobj.read(size)
        self.count += len(data)
        if self.count >= self._after:
            die("mid_copy", f"{self.count} bytes of {self._key} read, {self._parts_stored()} parts stored")
        return data

    def _parts_stored(self) -> int:
        """Parts of an unfinished multipart upload of the key the store holds (waits for the first)."""
        client, deadline = self._store.client, time.monotonic() + PART_DEADLINE
        while True:
            uploads = client.list_multipart_uploads(Bucket=self._store.bucket, Prefix=self._key).get("Uploads", [])
            parts = [part for upload in uploads for part in client.list_parts(
                Bucket=self._store.bucket, Key=self._key, UploadId=upload["UploadId"]).get("Parts", [])]
            if parts or time.monotonic() > deadline:
                return len(parts)
            time.sleep(0.05)   # an upload thread is sending the first part


def kill_mid_copy(kind: str) -> None:
    from portal.storage.tiers import tier_store

    store = tier_store("cold")
    real_put = store.put

    def put(key, fileobj, **kwargs):
        if _ours(kind, key):
            # Every copy killed here is over the 16 MiB multipart threshold: it dies once more than
            # the threshold was read and the store holds a part.
            fileobj = _KillingReader(fileobj, store=store, key=key, after=16 * MiB + 1)
        return real_put(key, fileobj, **kwargs)

    store.put = put


def kill_after_copy(kind: str) -> None:
    from portal.lifecycle import copying

    if kind == "large":
        copying._hash_object = lambda placement: die("after_copy", f"{placement.key} copied, not read back")
    else:
        copying._verify_container = lambda key, *args: die("after_copy", f"container {key} written, not read back")


def _switch_name(kind: str) -> str:
    return "_switch_one" if kind == "large" else "_switch_packed"


def kill_after_verify(kind: str) -> None:
    from portal.lifecycle import moves

    setattr(moves, _switch_name(kind), lambda *args, **kwargs: die("after_verify", f"{args[-1]} verified"))


def kill_in_switch(kind: str) -> None:
    from portal.lifecycle import moves

    real_record = moves.record

    def record(**kwargs):
        real_record(**kwargs)
        if ("container" in kwargs["details"]) == (kind != "large"):
            die("in_switch", f"switch to {kwargs['details'].get('container', kwargs['details'].get('blob'))} "
                             "written, not committed")

    moves.record = record


def kill_after_commit(kind: str) -> None:
    from portal.lifecycle import moves

    real = getattr(moves, _switch_name(kind))

    def switch(*args, **kwargs):
        result = real(*args, **kwargs)
        die("after_commit", f"switch committed: {result}")

    setattr(moves, _switch_name(kind), switch)


def kill_superseded_delete(kind: str) -> None:
    from portal.lifecycle import sweeps

    real_tier_store = sweeps.tier_store
    # A move leaves the hot copies superseded; compaction the old containers (in the cold tier).
    wanted = "cold" if kind == "compaction" else "hot"

    class Deleting:
        def __init__(self, name):
            self.name, self.store = name, real_tier_store(name)

        def delete(self, key):
            self.store.delete(key)
            if self.name == wanted:
                die("superseded_delete", f"{self.name}:{key} deleted, its row not")

    sweeps.tier_store = Deleting


STEPS = {"mid_copy": kill_mid_copy, "after_copy": kill_after_copy, "after_verify": kill_after_verify,
         "in_switch": kill_in_switch, "after_commit": kill_after_commit, "superseded_delete": kill_superseded_delete}
KINDS = ("large", "packed", "compaction")


def main(kind: str, step: str) -> int:
    import django

    django.setup()
    from portal.lifecycle import runs, sweeps

    STEPS[step](kind)
    when = datetime.fromisoformat(sys.stdin.readline().strip())
    if step == "superseded_delete":
        outcome = sweeps.superseded_delete(now=when)
    elif kind == "compaction":
        outcome = runs.containers_compact(now=when)
    else:
        outcome = runs.tiering_run(now=when).as_dict()
    sys.stdout.write(f"finished without reaching {step}: {outcome}\n")
    return 3


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in KINDS or sys.argv[2] not in STEPS:
        sys.exit(f"usage: kill_driver.py {{{'|'.join(KINDS)}}} {{{'|'.join(STEPS)}}}  (the time on stdin)")
    sys.exit(main(*sys.argv[1:]))
