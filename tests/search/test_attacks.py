"""Search attacked by hostile callers (issue 14, I): access lost after the
rows were written, late index tasks, stars, quarantined content, markup in
names and queries, hostile query and filter input on the page, the dropdown
and the API, tokens, and hostile files for the text extraction."""

from __future__ import annotations

import io
import time
import tracemalloc
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.files.models import Node
from portal.files.selectors import locate_path
from portal.files.services import tree
from portal.files.services.direct import file_put
from portal.scanning.models import ScanState, ScanVerdict
from portal.scanning.services import quarantine_release, scan_version
from portal.search import extract, query, selectors
from portal.search.models import SearchDoc, Star
from portal.search.query import Filters, terms_of
from portal.search.services import star_toggle
from portal.search.tasks import index_node, index_version
from portal.shares.services import share_link_create, share_link_revoke
from portal.spaces.services import member_remove, space_create, space_update
from tests.search.conftest import minimal_pdf
from tests.web.live import page_client

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]
URL = "/api/v1/search"
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "search-dropdown"}


def names(user, q: str, filters: Filters = Filters()) -> list[str]:
    return [hit.name for hit in query.search(user, terms_of(q), filters)]


def everywhere(user, q: str) -> dict:
    """What ``user`` learns about ``q`` from every surface: search, count, the API, the page and the dropdown."""
    api = _api(user).get(URL, {"q": q}).json()
    client = page_client(user)
    return {"search": names(user, q), "count": query.count(user, terms_of(q)), "api": api["count"],
            "page": "find-results" in client.get("/search/", {"q": q}).content.decode(),
            "dropdown": "search-hit" in client.get("/search/", {"q": q}, **HTMX).content.decode()}


NOTHING = {"search": [], "count": 0, "api": 0, "page": False, "dropdown": False}


def _api(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user=user)
    return client


# --- access lost after the index rows were written ---------------------------------------

def test_a_member_removed_from_a_space_finds_nothing_of_it_though_its_rows_remain(alice, bob, team, put):
    node = put(alice, team, "/zanzibar.txt", b"zanzibar treaty").node
    assert everywhere(bob, "zanzibar")["api"] == 1
    star_toggle(actor=bob, node_id=node.pk)
    member_remove(actor=alice, space_id=team.pk, user_id=bob.pk)
    assert SearchDoc.objects.filter(node=node).exists()          # the row is still there...
    assert everywhere(bob, "zanzibar") == NOTHING                # ...and the SQL leaves it out
    assert everywhere(bob, "treaty") == NOTHING
    assert selectors.starred_list(bob) == [] and selectors.recent_list(bob) == []
    assert "zanzibar" not in page_client(bob).get("/starred/").content.decode()


def test_an_archived_space_is_searched_by_its_members_only(alice, bob, team, put, secret):
    board, carol = secret
    put(carol, board, "/archived plan.txt", b"x")
    space_update(actor=carol, space_id=board.pk, archived=True)
    put(alice, team, "/plan.txt", b"x")
    space_update(actor=alice, space_id=team.pk, archived=True)
    assert names(carol, "archived plan") == ["archived plan.txt"]   # read-only, still readable
    assert names(bob, "plan") == ["plan.txt"]
    assert everywhere(alice, "archived") == NOTHING


def test_a_disabled_users_token_finds_nothing(alice, team, put, admin):
    from rest_framework.test import APIClient

    from portal.accounts.services import token_issue, token_revoke, user_disable

    put(alice, team, "/ledger.txt", b"x")
    token, plaintext = token_issue(actor=alice, owner=alice, name="cli")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert client.get(URL, {"q": "ledger"}).json()["count"] == 1      # tokens have no scopes: a token is its user
    token_revoke(actor=alice, token_id=token.pk)
    assert client.get(URL, {"q": "ledger"}).status_code == 401
    _token, plaintext = token_issue(actor=alice, owner=alice, name="cli 2")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    user_disable(actor=admin, user_id=alice.pk)
    assert client.get(URL, {"q": "ledger"}).status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert client.get(URL, {"q": "ledger"}).status_code == 401


def test_an_outsiders_space_filter_is_the_same_404_as_a_space_that_does_not_exist(alice, secret, put, signed_in):
    board, carol = secret
    for number in range(5):
        put(carol, board, f"/merger {number}.txt", b"x")
    client = signed_in(alice)
    theirs = client.get(URL, {"q": "merger", "space": board.pk})
    missing = client.get(URL, {"q": "merger", "space": board.pk + 10_000})
    assert theirs.status_code == missing.status_code == 404 and theirs.json() == missing.json()
    assert client.get(URL, {"q": "merger"}).json()["count"] == 0    # the count leaks nothing


def test_a_file_trashed_on_its_own_stays_hidden_when_its_folder_is_restored(alice, team, put):
    put(alice, team, "/Deals/escrow.txt", b"escrow")
    put(alice, team, "/Deals/other.txt", b"escrow")
    escrow = locate_path(alice, team.pk, "/Deals/escrow.txt").node
    folder = locate_path(alice, team.pk, "/Deals").node
    tree.node_trash(actor=alice, node_id=escrow.pk)
    tree.node_trash(actor=alice, node_id=folder.pk)
    assert names(alice, "escrow") == []
    tree.trash_restore(actor=alice, node_id=folder.pk)
    assert names(alice, "escrow") == ["other.txt"]
    index_node(folder.pk)          # a second run of the restore's task changes nothing
    assert names(alice, "escrow") == ["other.txt"]


def test_a_file_moved_into_a_folder_of_another_space_leaves_its_old_members(alice, bob, team, put):
    put(alice, team, "/term sheet.txt", b"x")
    mine = alice.memberships.exclude(space=team).get().space
    tree.folder_create(actor=alice, space_id=mine.pk, path="/Private")
    tree.node_move(actor=alice, node_id=locate_path(alice, team.pk, "/term sheet.txt").node.pk,
                   path="/Private/term sheet.txt", space_id=mine.pk)
    assert everywhere(bob, "term sheet") == NOTHING
    assert [hit.path for hit in query.search(alice, terms_of("private term"))] == ["/Private/term sheet.txt"]


# --- index tasks that run late -------------------------------------------------------------

@pytest.fixture
def queued(monkeypatch):
    """The tasks the tree's commits queue, held back (no worker has run yet)."""
    from portal.search import receivers

    held = []
    monkeypatch.setattr(receivers.transaction, "on_commit", held.append)
    return held


def test_an_index_task_that_runs_after_the_trash_does_not_resurrect_the_row(alice, team, put, queued):
    version = file_put(actor=alice, space_id=team.pk, path="/Hidden/late.txt", fileobj=io.BytesIO(b"phoenix"),
                       size=7)
    scan_version(version.pk)
    folder = locate_path(alice, team.pk, "/Hidden").node
    tree.node_trash(actor=alice, node_id=version.node_id)
    tree.node_trash(actor=alice, node_id=folder.pk)
    for task in queued:              # the upload's tasks run only now, after the trash
        task()
    assert index_node(version.node_id) == 1 and index_node(folder.pk) >= 1
    assert index_version(version.pk) in ("indexed", "newer")
    assert names(alice, "phoenix") == [] and names(alice, "late") == [] and names(alice, "hidden") == []


def test_an_index_task_that_runs_after_the_node_is_purged_writes_nothing(alice, team, put):
    node = put(alice, team, "/gone.txt", b"x").node
    version_id = node.current_version_id
    SearchDoc.objects.filter(node=node).delete()
    Node.objects.filter(pk=node.pk).update(current_version=None)
    Node.objects.filter(pk=node.pk).delete()
    assert index_node(node.pk) == 0 and index_version(version_id) == "gone"
    assert not SearchDoc.objects.filter(node_id=node.pk).exists()


def test_an_index_task_that_runs_after_a_move_to_another_space_indexes_the_new_space(alice, bob, team, put,
                                                                                     queued):
    node = put(alice, team, "/moved.txt", b"x").node
    mine = alice.memberships.exclude(space=team).get().space
    tree.node_move(actor=alice, node_id=node.pk, path="/moved.txt", space_id=mine.pk)
    index_node(node.pk)
    assert names(bob, "moved") == [] and names(alice, "moved") == ["moved.txt"]


# --- stars -----------------------------------------------------------------------------------

def test_stars_on_trashed_foreign_and_huge_nodes_are_404(alice, bob, team, put, secret):
    board, carol = secret
    theirs = put(carol, board, "/board.txt", b"x").node
    trashed = put(alice, team, "/trashed.txt", b"x").node
    tree.node_trash(actor=alice, node_id=trashed.pk)
    client = page_client(alice)
    assert client.post(f"/spaces/{team.pk}/items/{trashed.pk}/star").status_code == 404
    assert client.post(f"/spaces/{team.pk}/items/{theirs.pk}/star").status_code == 404
    assert client.post(f"/spaces/{team.pk}/items/{2**64 + 1}/star").status_code == 404
    assert client.post(f"/spaces/{2**64 + 1}/items/{theirs.pk}/star").status_code == 404
    assert not Star.objects.exists()


def test_a_star_below_a_folder_trashed_later_is_hidden_and_comes_back_with_it(alice, bob, team, put):
    node = put(alice, team, "/Keep/starred.txt", b"x").node
    star_toggle(actor=bob, node_id=node.pk)
    folder = locate_path(alice, team.pk, "/Keep").node
    tree.node_trash(actor=alice, node_id=folder.pk)
    assert selectors.starred_list(bob) == []
    tree.trash_restore(actor=alice, node_id=folder.pk)
    assert [hit.name for hit, _ in selectors.starred_list(bob)] == ["starred.txt"]


# --- quarantined content ---------------------------------------------------------------------

def _flag(version, scanner: str = "clamav") -> ScanVerdict:
    """A later finding on ``version`` (a rescan with new signatures saves its verdict so)."""
    verdict = ScanVerdict.objects.get(version=version)
    verdict.state, verdict.scanner, verdict.signature = ScanState.FLAGGED, scanner, "Eicar-Test"
    verdict.save(update_fields=["state", "scanner", "signature"])
    return verdict


def test_text_of_bytes_flagged_later_is_no_longer_found_in_any_copy(alice, bob, team, put, admin):
    clean = put(alice, team, "/dossier.txt", b"kompromat dossier")
    tree.node_copy(actor=alice, node_id=clean.node_id, path="/copy.txt")    # the same bytes, no verdict of its own
    assert sorted(names(bob, "kompromat")) == ["copy.txt", "dossier.txt"]
    verdict = _flag(clean)
    assert names(bob, "kompromat") == [] and names(bob, "dossier") == ["dossier.txt"]   # names stay
    copy = locate_path(alice, team.pk, "/copy.txt").node
    assert index_version(clean.pk) == index_version(copy.current_version_id) == "not_clean"   # reruns
    assert names(alice, "kompromat") == []
    quarantine_release(actor=admin, verdict_id=verdict.pk)    # a false positive: the texts come back
    assert sorted(names(bob, "kompromat")) == ["copy.txt", "dossier.txt"]


def test_a_version_scanned_clean_is_not_indexed_while_its_bytes_are_flagged_elsewhere(alice, team, put):
    original = put(alice, team, "/a.txt", b"samizdat pamphlet")
    tree.node_copy(actor=alice, node_id=original.node_id, path="/b.txt")
    copy = locate_path(alice, team.pk, "/b.txt").node.current_version
    ScanVerdict.objects.create(version=copy, state=ScanState.CLEAN)      # a verdict of its own, clean
    _flag(original)
    SearchDoc.objects.filter(node_id=copy.node_id).update(body_words="samizdat", content_version_id=None)
    assert index_version(copy.pk) == "not_clean"          # its bytes are blocked by the original's finding
    assert SearchDoc.objects.get(node_id=copy.node_id).body_words == "samizdat"   # (not rewritten)


def test_a_name_flag_drops_that_versions_text_only(alice, team, put):
    version = put(alice, team, "/notes.txt", b"quokka")
    tree.node_copy(actor=alice, node_id=version.node_id, path="/notes copy.txt")
    _flag(version, scanner="extension")
    assert names(alice, "quokka") == ["notes copy.txt"]
