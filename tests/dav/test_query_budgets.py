"""A WebDAV write costs the same number of queries however deep the file is,
and deleting a folder however much it holds: wsgidav asks for the locks on
each URL above the one it changes (and, for a folder, on each member), and
the lock storage answers them from one walk of the tree and the listing."""

from __future__ import annotations

import base64
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.files.models import Node
from portal.files.services.direct import file_put
from portal.files.services.tree import folder_create
from tests.dav.test_listing import make_files
from tests.dav.test_mount import call

DEPTHS = (1, 6, 20)
# Queries per request at any depth (inside the test's transaction, savepoints included).
# Fewer is fine; more is a regression.
# DELETE: one statement of it marks the subtree as trashed in the search index (portal/search).
# DELETE: one more since the trash writes the node's place history (portal.files.history, one INSERT ... SELECT).
# PUT, MKCOL: one more, the INSERT of the follow-up tasks the write queues (portal.outbox: written with the
# change, one statement whatever their number, so that they survive a broker outage).
BUDGETS = {"PROPFIND": 7, "PUT over a file": 22, "PUT of a new file": 24, "DELETE": 24, "MKCOL": 16}


def queries(app, auth: tuple[str, str], method: str, path: str, body: bytes = b"", **headers) -> int:
    basic = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    with CaptureQueriesContext(connection) as captured:
        status, _, content = call(app, path, method, HTTP_AUTHORIZATION=basic, CONTENT_LENGTH=str(len(body)),
                                  **{"wsgi.input": io.BytesIO(body)}, **headers)
    assert status[:3] in ("201", "204", "207"), (method, path, status, content)
    return len(captured)


def requests_at(app, auth, base: str) -> dict[str, int]:
    return {
        "PROPFIND": queries(app, auth, "PROPFIND", base + "/a.txt", HTTP_DEPTH="0"),
        "PUT over a file": queries(app, auth, "PUT", base + "/a.txt", body=b"two"),
        "PUT of a new file": queries(app, auth, "PUT", base + "/b.txt", body=b"new"),
        "DELETE": queries(app, auth, "DELETE", base + "/b.txt"),
        "MKCOL": queries(app, auth, "MKCOL", base + "/made"),
    }


@pytest.mark.django_db
def test_webdav_requests_cost_the_same_queries_at_every_depth(alice_dav, team, alice):
    from django.core.wsgi import get_wsgi_application

    from portal.dav.app import DavDispatcher

    app = DavDispatcher(get_wsgi_application())
    queries(app, alice_dav.auth, "PROPFIND", f"/dav/{team.slug}/", HTTP_DEPTH="0")  # the token's first use
    by_depth = {}
    for depth in DEPTHS:
        folder = "".join(f"/level-{depth}-{i}" for i in range(depth))
        folder_create(actor=alice, space_id=team.pk, path=folder)
        file_put(actor=alice, space_id=team.pk, path=folder + "/a.txt", fileobj=io.BytesIO(b"one"), size=3)
        by_depth[depth] = requests_at(app, alice_dav.auth, f"/dav/{team.slug}{folder}")
    for request, budget in BUDGETS.items():
        counts = {depth: by_depth[depth][request] for depth in DEPTHS}
        assert len(set(counts.values())) == 1, f"{request}: queries by depth {counts}"
        assert counts[DEPTHS[0]] <= budget, f"{request}: queries by depth {counts}, budget {budget}"


@pytest.mark.django_db
def test_deleting_a_folder_costs_the_same_queries_whatever_it_holds(alice_dav, team, alice):
    from django.core.wsgi import get_wsgi_application

    from portal.dav.app import DavDispatcher

    app = DavDispatcher(get_wsgi_application())
    queries(app, alice_dav.auth, "PROPFIND", f"/dav/{team.slug}/", HTTP_DEPTH="0")  # the token's first use
    counts = {}
    for size in (5, 50):
        folder_create(actor=alice, space_id=team.pk, path=f"/holds-{size}")
        make_files(Node.objects.get(space=team, name=f"holds-{size}"), size)
        counts[size] = queries(app, alice_dav.auth, "DELETE", f"/dav/{team.slug}/holds-{size}")
    assert counts[5] == counts[50] <= 28, f"queries by files held: {counts}"
