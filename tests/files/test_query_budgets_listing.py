"""Query budgets of the listing and metadata paths: a folder's listing
(REST and browser page) costs the same number of queries whatever the number
of its entries and whatever its depth, with locks and scan verdicts shown;
a node's metadata costs the same at every depth. The ceilings are pinned:
a change that adds a query per row, per level or per request fails here."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.files import names
from portal.files.models import Node, NodeKind
from portal.files.selectors import space_root
from portal.locks.models import Lock, LockDepth, LockKind
from portal.scanning.models import ScanState, ScanVerdict

pytestmark = pytest.mark.django_db

DEPTHS = range(1, 21)
SIZES = (5, 50, 200)
# The exact number of queries each request makes (see the docstrings below).
API_LISTING = 5
BROWSER_PAGE = 8
NODE_METADATA = 5


def _folder(parent: Node, name: str) -> Node:
    return Node.objects.create(space_id=parent.space_id, parent=parent, kind=NodeKind.FOLDER, name=name,
                               name_key=names.name_key(name))


def _lock(node: Node, owner, *, depth: str = LockDepth.ZERO) -> Lock:
    now = timezone.now()
    kind = LockKind.EDITOR if depth == LockDepth.INFINITY else LockKind.MANUAL  # as WebDAV takes folder locks
    return Lock.objects.create(node=node, owner=owner, kind=kind, depth=depth, created_at=now,
                               refreshed_at=now, expires_at=now + timedelta(hours=1), timeout_seconds=3600)


def _fill(folder: Node, count: int, make_file, owner) -> None:
    """``count`` entries: a fifth of them folders, the rest files; every
    third file locked, and the files' verdicts a mix of clean, flagged by
    content, held (pending, fail-closed) and none."""
    for i in range(count // 5):
        _folder(folder, f"sub-{i:03d}")
    files = make_file.many(folder, count - count // 5, names=[f"f-{i:03d}.txt" for i in range(count - count // 5)])
    verdicts = [dict(state=ScanState.CLEAN, scanner="clamav"),
                dict(state=ScanState.FLAGGED, scanner="clamav", signature="Eicar-Test-Signature"),
                dict(state=ScanState.PENDING, fail_closed=True), None]
    for i, node in enumerate(files):
        if i % 3 == 0:
            _lock(node, owner)
        if verdicts[i % 4] is not None:
            ScanVerdict.objects.create(version_id=node.current_version_id, **verdicts[i % 4])


@pytest.fixture
def tree(team, alice, member_of, make_file):
    """A chain /level-01/.../level-20, each level holding 5 entries (its next
    level and 4 files), a depth-infinity lock on level-10 (covering every level
    below it), and folders of 5, 50 and 200 entries at depths 1 and 20.
    -> {"levels": [folder, ...], "sizes": {(depth, size): folder}}"""
    erin = member_of("editor", "erin")
    levels, parent = [], space_root(team)
    for depth in DEPTHS:
        parent = _folder(parent, f"level-{depth:02d}")
        levels.append(parent)
    for folder in levels:
        _fill(folder, 5 - 1, make_file, erin)  # plus the next level (the deepest gets the size folders)
    _lock(levels[9], erin, depth=LockDepth.INFINITY)
    sizes = {}
    for depth, parent in ((1, space_root(team)), (20, levels[18])):
        for size in SIZES:
            sizes[(depth, size)] = folder = _folder(parent, f"size-{size}")
            _fill(folder, size, make_file, erin)
    return {"levels": levels, "sizes": sizes}


def path_of(folder: Node) -> str:
    from portal.files.selectors import path_names_of

    return names.join(path_names_of(folder))


def counted(request, ceiling: int, django_assert_max_num_queries):
    """(the response, the number of queries it took), failing beyond ``ceiling``."""
    with django_assert_max_num_queries(ceiling), CaptureQueriesContext(connection) as queries:
        response = request()
    assert response.status_code == 200, response.content[:500]
    return response, len(queries)


def _all_folders(tree) -> list[tuple[str, Node]]:
    return ([(f"depth {depth}", folder) for depth, folder in zip(DEPTHS, tree["levels"])]
            + [(f"{size} entries at depth {depth}", folder) for (depth, size), folder in tree["sizes"].items()])


def test_an_api_listing_takes_the_same_queries_at_every_size_and_depth(tree, signed_in, alice,
                                                                       django_assert_max_num_queries):
    """The space and role, the walk down the path, the page (its rows carry
    the count), the locks (on the entries and covering the folder), the
    verdicts: the same few queries for a listing of 5 or 200 entries, 1 or 20
    folders deep."""
    client = signed_in(alice)
    counts = {}
    for label, folder in _all_folders(tree):
        url = f"/api/v1/spaces/{folder.space_id}/tree{quote(path_of(folder))}"
        response, counts[label] = counted(lambda: client.get(url, {"page_size": 1000}), API_LISTING,
                                          django_assert_max_num_queries)
        body = response.json()
        assert body["count"] == Node.objects.filter(parent=folder).count()
        entries = {entry["name"]: entry for entry in body["results"]}
        assert entries["f-000.txt"]["lock"]["owner"] == "erin" and entries["f-000.txt"]["scan"]["state"] == "clean"
        assert entries["f-001.txt"]["scan"] == {"state": "flagged", "signature": "Eicar-Test-Signature",
                                                "quarantined": True}
        assert entries["f-002.txt"]["scan"]["quarantined"] and entries["f-003.txt"]["scan"] is None
    assert set(counts.values()) == {API_LISTING}, counts


def test_an_api_listing_shows_the_locks_that_cover_the_folder(tree, signed_in, alice):
    client = signed_in(alice)
    above, below = tree["levels"][8], tree["levels"][9]
    shallow = client.get(f"/api/v1/spaces/{above.space_id}/tree{quote(path_of(above))}").json()
    deep = client.get(f"/api/v1/spaces/{below.space_id}/tree{quote(path_of(below))}").json()
    assert shallow["folder"]["lock"] is None and deep["folder"]["lock"]["depth"] == "infinity"
    assert {entry["name"]: entry["lock"] for entry in shallow["results"]}["f-001.txt"] is None
    assert {entry["name"]: entry["lock"] for entry in deep["results"]}["f-001.txt"]["node"] == below.id


def test_a_browser_folder_page_takes_the_same_queries_at_every_size_and_depth(tree, client, alice,
                                                                              django_assert_max_num_queries):
    """The session, the user and their second factor, the space and role,
    the walk, the page (its rows carry the count, the viewer's stars and the
    thumbnails as columns), the locks, and the left navigation's spaces:
    whatever the folder holds and wherever it is."""
    client.force_login(alice)
    counts = {}
    for label, folder in _all_folders(tree):
        url = reverse("web:browser", args=[folder.space_id]) + "?" + f"path={quote(path_of(folder))}"
        response, counts[label] = counted(lambda: client.get(url), BROWSER_PAGE, django_assert_max_num_queries)
        page = response.content.decode()
        assert "f-000.txt" in page and 'class="fm-row locked"' in page
    assert set(counts.values()) == {BROWSER_PAGE}, counts


def test_a_nodes_metadata_takes_the_same_queries_at_every_depth(tree, signed_in, alice,
                                                                django_assert_max_num_queries):
    """The node, the space and role, the walk up, its locks, its verdicts."""
    client = signed_in(alice)
    counts = {}
    for depth, folder in zip(DEPTHS, tree["levels"]):
        node = Node.objects.get(parent=folder, name="f-001.txt")
        response, counts[depth] = counted(lambda: client.get(f"/api/v1/files/{node.id}"), NODE_METADATA,
                                          django_assert_max_num_queries)
        body = response.json()
        assert body["path"] == path_of(folder) + "/f-001.txt" and body["scan"]["quarantined"]
        assert (body["lock"] is not None) == (depth >= 10)  # only the depth-infinity lock covers it
    assert set(counts.values()) == {NODE_METADATA}, counts


def test_outsiders_get_not_found_from_the_listing_and_metadata(tree, signed_in, bob):
    client, deep = signed_in(bob), tree["levels"][-1]
    node = Node.objects.get(parent=deep, name="f-000.txt")
    assert client.get(f"/api/v1/spaces/{deep.space_id}/tree{quote(path_of(deep))}").status_code == 404
    assert client.get(f"/api/v1/files/{node.id}").status_code == 404
