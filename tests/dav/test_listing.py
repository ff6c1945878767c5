"""A PROPFIND Depth: 1 of a folder costs a fixed number of queries, not a few
per entry: the same for 1, 20 or 150 entries, with or without dead
properties and locks on them."""

from __future__ import annotations

import base64
import io
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.dav.models import DeadProperty, LockOwner
from portal.files import names
from portal.files.models import Blob, FileVersion, Node, NodeKind
from portal.files.selectors import space_root
from portal.locks.models import Lock, LockKind
from tests.dav.support import PROPFIND_ALL
from tests.dav.test_mount import call

SIZES = (1, 20, 150)
# What a Depth: 1 listing costs, whatever the folder holds: sign-in (2), the space (2), the
# folder (its walk, dead properties and locks: 3), its members, their dead properties and their
# locks (3), and when some are locked their <owner> elements (1). Fewer is fine; more is a regression.
LISTING_QUERIES = {False: 10, True: 11}


def make_files(folder: Node, count: int) -> list[Node]:
    blobs = Blob.objects.bulk_create(Blob(key=f"blobs/db-only/{uuid.uuid4().hex}", size=1) for _ in range(count))
    nodes = Node.objects.bulk_create(
        Node(space_id=folder.space_id, parent=folder, kind=NodeKind.FILE, name=f"f{i:04d}.txt",
             name_key=names.name_key(f"f{i:04d}.txt"), size=1) for i in range(count))
    versions = FileVersion.objects.bulk_create(FileVersion(node=n, number=1, blob=b, size=1)
                                               for n, b in zip(nodes, blobs, strict=True))
    for node, version in zip(nodes, versions, strict=True):
        node.current_version = version
    Node.objects.bulk_update(nodes, ["current_version"])
    return nodes


def decorate(nodes: list[Node], *, owners) -> None:
    """A dead property on every entry; every third one locked, by each owner in turn."""
    DeadProperty.objects.bulk_create(
        DeadProperty(node=node, name="{http://example.com/coffer/}color",
                     value='<Z:color xmlns:Z="http://example.com/coffer/">red</Z:color>') for node in nodes)
    now = timezone.now()
    locks = Lock.objects.bulk_create(
        Lock(node=node, owner=owners[i % len(owners)], kind=LockKind.EDITOR, expires_at=now + timedelta(hours=1),
             timeout_seconds=3600) for i, node in enumerate(nodes[::3]))
    LockOwner.objects.bulk_create(LockOwner(token=lock.token, owner_xml="<D:owner xmlns:D=\"DAV:\">me</D:owner>")
                                  for lock in locks[::2])


def folder_of(space, name: str) -> Node:
    return Node.objects.create(space=space, parent=space_root(space), kind=NodeKind.FOLDER, name=name,
                               name_key=names.name_key(name))


def propfind_queries(app, user: str, token: str, path: str) -> tuple[int, bytes]:
    auth = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
    body = PROPFIND_ALL

    with CaptureQueriesContext(connection) as queries:
        status, _, content = call(app, path, "PROPFIND", HTTP_AUTHORIZATION=auth, HTTP_DEPTH="1",
                                  CONTENT_LENGTH=str(len(body)), CONTENT_TYPE="application/xml",
                                  **{"wsgi.input": io.BytesIO(body)})
    assert status.startswith("207"), content
    return len(queries), content


@pytest.fixture
def dav_app():
    from django.core.wsgi import get_wsgi_application

    from portal.dav.app import DavDispatcher

    return DavDispatcher(get_wsgi_application())


@pytest.mark.django_db
@pytest.mark.parametrize("decorated", [False, True], ids=["plain", "properties-and-locks"])
def test_a_depth_1_listing_costs_the_same_queries_whatever_the_folder_holds(dav_app, alice_dav, team, alice, bob,
                                                                            decorated):
    from portal.spaces.services import member_add

    member_add(actor=alice, space_id=team.pk, username=bob.get_username(), role="editor")
    folders = {size: folder_of(team, f"holds-{size}") for size in SIZES}
    for size, folder in folders.items():
        nodes = make_files(folder, size)
        if decorated:
            decorate(nodes, owners=[alice, bob])
    propfind_queries(dav_app, *alice_dav.auth, f"/dav/{team.slug}/")  # the token's first use is recorded
    counts = {}
    for size in SIZES:
        counts[size], content = propfind_queries(dav_app, *alice_dav.auth, f"/dav/{team.slug}/holds-{size}/")
        assert content.count(b"</D:response>") == size + 1
        if decorated:
            assert content.count(b">red</") == size
            assert content.count(b"<D:activelock>") == len(range(0, size, 3))
    assert len(set(counts.values())) == 1, f"queries by entries listed: {counts}"
    assert counts[SIZES[0]] <= LISTING_QUERIES[decorated], f"queries by entries listed: {counts}"
