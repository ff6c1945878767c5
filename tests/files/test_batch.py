"""files_put_many: many stored files become versions in one transaction, each
checked as file_put checks it, one file's refusal never costing the others."""

from __future__ import annotations

import io
from datetime import datetime, timezone as tz

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.audit.models import AuditEvent
from portal.core.errors import Conflict, Forbidden, NotFound
from portal.files.models import FileVersion, Node
from portal.files.services.batch import StoredFile, files_put_many
from portal.files.services.common import new_blob_key
from portal.files.services.direct import file_put
from portal.files.services.tree import folder_create
from portal.locks.services import lock_acquire
from portal.scanning.models import ScanVerdict
from portal.spaces.models import Space
from portal.spaces.services import member_add, space_update
from portal.storage import get_store

pytestmark = pytest.mark.django_db


def stored(tag, path: str, data: bytes, **extra) -> StoredFile:
    key = new_blob_key()
    get_store().put(key, io.BytesIO(data))
    return StoredFile(tag=tag, path=path, key=key, size=len(data), **extra)


def live(space, path: str) -> Node:
    node = Node.objects.get(space=space, parent__isnull=True)
    for name in path.strip("/").split("/"):
        node = Node.objects.get(parent=node, name=name, trashed_at__isnull=True)
    return node


def test_a_batch_makes_files_folders_versions_events_and_pending_scans(alice, team):
    mtime = datetime(2021, 3, 4, 5, 6, 7, tzinfo=tz.utc)
    files = [stored(n, f"/Docs/Sub{n % 3}/f{n}.txt", b"data %d" % n, modified_at=mtime) for n in range(30)]
    before = Space.objects.get(pk=team.pk).used_bytes
    with CaptureQueriesContext(connection) as queries:
        result = files_put_many(actor=alice, space_id=team.pk, files=files, details={"import_run": 7})
    assert result.refused == {} and sorted(result.made) == list(range(30))
    assert len(queries) < 40, "statements per batch, not per file"
    node = live(team, "/Docs/Sub1/f4.txt")
    assert node.current_version.number == 1 and node.size == len(b"data 4") and node.modified_at == mtime
    assert Space.objects.get(pk=team.pk).used_bytes == before + sum(f.size for f in files)
    events = AuditEvent.objects.filter(action="file.uploaded", space=team)
    assert events.count() == 30 and events.filter(details__import_run=7, target_label="/Docs/Sub1/f4.txt").exists()
    assert ScanVerdict.objects.filter(version__node__space=team, state="pending").count() == 30


def test_an_existing_file_gets_its_next_version_and_a_name_twice_in_a_batch_two(alice, team):
    file_put(actor=alice, space_id=team.pk, path="/a.txt", fileobj=io.BytesIO(b"one"), size=3)
    result = files_put_many(actor=alice, space_id=team.pk, files=[
        stored("x", "/A.TXT", b"two"), stored("y", "/new.txt", b"n1"), stored("z", "/NEW.txt", b"n2")])
    assert result.refused == {}
    assert [v.number for v in FileVersion.objects.filter(node=live(team, "/a.txt")).order_by("number")] == [1, 2]
    new = live(team, "/new.txt")
    assert [v.number for v in FileVersion.objects.filter(node=new).order_by("number")] == [1, 2]
    assert new.current_version.number == 2 and new.size == 2


def test_each_refusal_is_that_files_alone(alice, team, bob):
    folder_create(actor=alice, space_id=team.pk, path="/Taken")
    file_put(actor=alice, space_id=team.pk, path="/blocker", fileobj=io.BytesIO(b"x"), size=1)
    file_put(actor=alice, space_id=team.pk, path="/locked.txt", fileobj=io.BytesIO(b"x"), size=1)
    member_add(actor=alice, space_id=team.pk, username=bob.username, role="editor")
    lock_acquire(actor=bob, node=live(team, "/locked.txt"))
    files = [stored("ok", "/fine.txt", b"ok"), stored("folder", "/Taken", b"x"),
             stored("in-the-way", "/blocker/inside.txt", b"x"), stored("bad-name", "/bad\x00name", b"x"),
             stored("locked", "/locked.txt", b"new")]
    result = files_put_many(actor=alice, space_id=team.pk, files=files)
    assert sorted(result.made) == ["ok"]
    assert set(result.refused) == {"folder", "in-the-way", "bad-name", "locked"}
    assert result.refused["folder"].code == "is_a_folder"
    assert result.refused["in-the-way"].code == "not_a_folder"
    assert result.refused["locked"].status == 423
    assert sorted(result.keys_to_remove(files)) == sorted(f.key for f in files if f.tag != "ok")
    assert live(team, "/locked.txt").current_version.number == 1


def test_the_quota_takes_files_in_order_and_refuses_the_rest(alice, team):
    Space.objects.filter(pk=team.pk).update(quota_bytes=Space.objects.get(pk=team.pk).used_bytes + 10)
    result = files_put_many(actor=alice, space_id=team.pk, files=[
        stored(1, "/a", b"12345"), stored(2, "/b", b"123456"), stored(3, "/c", b"1234")])
    assert sorted(result.made) == [1, 3] and result.refused[2].code == "quota_exceeded"
    space = Space.objects.get(pk=team.pk)
    assert space.used_bytes == space.quota_bytes - 1


def test_an_outsider_or_a_viewer_or_an_archived_space_gets_nothing_in(alice, team, bob, member_of):
    files = [stored(1, "/a.txt", b"a")]
    with pytest.raises(NotFound):
        files_put_many(actor=bob, space_id=team.pk, files=files)
    with pytest.raises(Forbidden):
        files_put_many(actor=member_of("viewer"), space_id=team.pk, files=files)
    space_update(actor=alice, space_id=team.pk, archived=True)
    with pytest.raises(Conflict):
        files_put_many(actor=alice, space_id=team.pk, files=files)
    assert not FileVersion.objects.filter(node__space=team).exists()
