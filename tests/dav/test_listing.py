"""A PROPFIND of a big folder costs a fixed number of queries, not a few per entry."""

from __future__ import annotations

import base64
import io
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.files import names
from portal.files.models import Blob, FileVersion, Node, NodeKind
from portal.files.selectors import space_root
from tests.dav.support import PROPFIND_ALL
from tests.dav.test_mount import call


def make_files(folder: Node, count: int) -> None:
    blobs = Blob.objects.bulk_create(Blob(key=f"blobs/db-only/{uuid.uuid4().hex}", size=1) for _ in range(count))
    nodes = Node.objects.bulk_create(
        Node(space_id=folder.space_id, parent=folder, kind=NodeKind.FILE, name=f"f{i:04d}.txt",
             name_key=names.name_key(f"f{i:04d}.txt"), size=1) for i in range(count))
    versions = FileVersion.objects.bulk_create(FileVersion(node=n, number=1, blob=b, size=1)
                                               for n, b in zip(nodes, blobs, strict=True))
    for node, version in zip(nodes, versions, strict=True):
        node.current_version = version
    Node.objects.bulk_update(nodes, ["current_version"])


def propfind_queries(app, user: str, token: str, path: str) -> tuple[int, bytes]:
    auth = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
    body = PROPFIND_ALL

    with CaptureQueriesContext(connection) as queries:
        status, _, content = call(app, path, "PROPFIND", HTTP_AUTHORIZATION=auth, HTTP_DEPTH="1",
                                  CONTENT_LENGTH=str(len(body)), CONTENT_TYPE="application/xml",
                                  **{"wsgi.input": io.BytesIO(body)})
    assert status.startswith("207"), content
    return len(queries), content


@pytest.mark.django_db
def test_propfind_depth_1_queries_do_not_grow_with_the_folder(alice_dav, team):
    from django.core.wsgi import get_wsgi_application

    from portal.dav.app import DavDispatcher

    app = DavDispatcher(get_wsgi_application())
    small, big = Node.objects.create(space=team, parent=space_root(team), kind=NodeKind.FOLDER, name="small",
                                     name_key="small"), \
        Node.objects.create(space=team, parent=space_root(team), kind=NodeKind.FOLDER, name="big", name_key="big")
    make_files(small, 5)
    make_files(big, 200)
    propfind_queries(app, *alice_dav.auth, f"/dav/{team.slug}/small/")  # the token's first use is recorded
    few, _ = propfind_queries(app, *alice_dav.auth, f"/dav/{team.slug}/small/")
    many, content = propfind_queries(app, *alice_dav.auth, f"/dav/{team.slug}/big/")
    assert content.count(b"<D:response>") == 201
    assert many == few, f"{few} queries for 5 entries, {many} for 200"
