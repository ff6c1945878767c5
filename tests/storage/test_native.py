"""The S3 store's whole-object PUTs and GETs go through the native client
(obstore); what boto3 still does, and where it must take over."""

from __future__ import annotations

import io
import multiprocessing
import uuid

from tests.storage.conftest import s3_store


def _write_and_read_in_a_child(seaweed, bucket: str, key: str, answers) -> None:
    store = s3_store(seaweed, bucket)
    store.put(key, io.BytesIO(b"from the child"))
    answers.put(store.open(key).read())


def test_a_process_forked_after_the_native_client_ran_still_writes_and_reads(seaweed, s3_bucket):
    """The native client's threads do not survive a fork (a call in the child would hang):
    the child of a process that used it goes through boto3."""
    store = s3_store(seaweed, s3_bucket)
    key = f"native/{uuid.uuid4().hex}"
    store.put(key, io.BytesIO(b"from the parent"))
    assert store.open(key).read() == b"from the parent"
    fork = multiprocessing.get_context("fork")
    answers = fork.Queue()
    child = fork.Process(target=_write_and_read_in_a_child, args=(seaweed, s3_bucket, key + "-child", answers))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert answers.get(timeout=5) == b"from the child"
    store.delete(key)
    store.delete(key + "-child")

