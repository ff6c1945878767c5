"""Times in S3 answers: a listing's ISO 8601 and a HEAD's HTTP date give the same aware instant
(listings parse theirs without dateutil, which cost a third of listing a big bucket's CPU)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

from portal.storage.s3 import _timestamp
from tests.storage.conftest import s3_store


def test_listing_and_head_times_agree_and_are_aware(seaweed, s3_bucket, ns):
    store = s3_store(seaweed, s3_bucket)
    store.put(f"{ns}/a", io.BytesIO(b"data"))
    (entry,) = store.iter_objects(f"{ns}/")
    head = store.stat(f"{ns}/a")
    assert entry.modified.tzinfo is not None and head.modified.tzinfo is not None
    assert entry.modified.replace(microsecond=0) == head.modified  # HTTP dates have whole seconds
    assert abs(datetime.now(timezone.utc) - head.modified) < timedelta(minutes=5)


def test_times_in_other_forms_are_parsed_as_botocore_would():
    utc = datetime(2026, 12, 3, 19, 0, 42, tzinfo=timezone.utc)
    assert _timestamp("2026-12-03T19:00:42.000Z") == utc
    assert _timestamp("2026-12-03T21:00:42+02:00") == utc
    assert _timestamp("Thu, 03 Dec 2026 19:00:42 GMT") == utc
    assert _timestamp("1796324442") == utc  # seconds since the epoch
