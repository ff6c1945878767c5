"""Ransomware through WebDAV (a stolen app password: PUT encrypted bytes over
each file, MOVE it to .locked, DELETE some, PUT a ransom note), undone by a
restore to the point in time before it (in-process WSGI calls, no server)."""

from __future__ import annotations

import base64
import io
import os

import pytest
from django.utils import timezone

from portal.files.models import FileVersion, Node
from portal.files.services import point_in_time
from portal.files.services.direct import file_put
from portal.spaces.models import Membership
from portal.spaces.services import space_create
from portal.storage import get_store
from tests.dav.test_mount import call

pytestmark = pytest.mark.django_db(transaction=True)  # WebDAV writes commit as in production


def test_a_webdav_attack_is_undone_byte_for_byte(alice, make_user, dav_user_of):
    from django.core.wsgi import get_wsgi_application

    from portal.dav.app import DavDispatcher

    space = space_create(actor=alice, name="Team")
    originals = {f"report-{i}.docx": os.urandom(100 + i) for i in range(10)}
    for name, data in originals.items():
        file_put(actor=alice, space_id=space.pk, path=f"/Docs/{name}", fileobj=io.BytesIO(data), size=len(data))
    at = timezone.now()
    mallory = make_user(username="mallory")
    Membership.objects.create(space=space, user=mallory, role="editor")
    auth = "Basic " + base64.b64encode(":".join(dav_user_of(mallory).auth).encode()).decode()
    app, base = DavDispatcher(get_wsgi_application()), f"/dav/{space.slug}/Docs"

    def dav(method, path, body=b"", **headers):
        status, _, content = call(app, path, method, HTTP_AUTHORIZATION=auth, CONTENT_LENGTH=str(len(body)),
                                  **{"wsgi.input": io.BytesIO(body)}, **headers)
        assert status[:3] in ("201", "204"), (method, path, status, content.decode(errors="replace")[:3000])

    for name in list(originals)[:8]:
        dav("PUT", f"{base}/{name}", os.urandom(256))
        dav("MOVE", f"{base}/{name}", HTTP_DESTINATION=f"http://127.0.0.1{base}/{name}.locked")
    for name in list(originals)[8:]:
        dav("DELETE", f"{base}/{name}")
    dav("PUT", f"{base}/HOW_TO_DECRYPT.txt", b"pay")

    plan = point_in_time.point_restore_preview(actor=alice, space_id=space.pk, at=at)
    assert (plan.counts["content"], plan.counts["place"], plan.counts["untrash"], plan.counts["trash"]) == (8, 8, 2, 1)
    point_in_time.point_restore_start(actor=alice, space_id=space.pk, at=at)
    folder = Node.objects.get(space=space, name="Docs")
    for name, data in originals.items():
        node = Node.objects.select_related("current_version__blob").get(parent=folder, name=name, trashed_at=None)
        with get_store().open(node.current_version.blob.key) as stream:
            assert stream.read() == data, name
    assert Node.objects.get(parent=folder, name="HOW_TO_DECRYPT.txt").trashed_at is not None
    assert FileVersion.objects.filter(node__parent=folder, node__name="report-0.docx").count() == 3
