"""Search attacked by hostile callers (issue 14, I): access lost after the
rows were written, late index tasks, stars, quarantined content, markup in
names and queries, hostile query and filter input on the page, the dropdown
and the API, tokens, and hostile files for the text extraction."""

from __future__ import annotations

import io
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
from tests.support.pdf import pdf_of
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
    monkeypatch.setattr(receivers, "enqueue", lambda task, *args, **options: held.append(lambda: task(*args)))
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


# --- markup in names, space names and queries ------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


def test_markup_in_names_space_names_and_the_query_is_escaped_on_the_page_and_in_the_dropdown(alice, put):
    space = space_create(actor=alice, name=f"Evil {SCRIPT}")
    put(alice, space, "/evil & 'quoted' report.txt", b"x")
    node = Node.objects.get(name="evil & 'quoted' report.txt")
    Node.objects.filter(pk=node.pk).update(name=f"evil {IMG} report.txt")   # a name that came in by another road
    index_node(node.pk)
    client = page_client(alice)
    for q in ("evil report", f"evil {IMG}", f"evil {SCRIPT}"):
        for html in (client.get("/search/", {"q": q}).content.decode(),
                     client.get("/search/", {"q": q}, **HTMX).content.decode()):
            assert SCRIPT not in html and "<img src=x" not in html, q
            assert "&lt;script&gt;" in html or "&lt;img" in html or "&quot;" in html
    assert "onerror" not in client.get("/search/", {"q": "evil"}, **HTMX).content.decode().split("&lt;img")[0]


# --- hostile query input -----------------------------------------------------------------------

HOSTILE_Q = ["", " ", "a", "x" * 200, "\x00", "report\x00", "a\x00b", "!!!...???", "& | ! : * ( ) '",
             "report & !secret", "'report':* | x", "report' ; DROP TABLE search_doc; --", "1' OR '1'='1",
             "% _ \\", "%", "_", "\\", "\u202egnp.exe", "e\u0301", "ＲＥＰＯＲＴ", "财", "\U0001F600 report",
             "a" * 61, "report " * 40]


@pytest.mark.parametrize("q", HOSTILE_Q)
def test_hostile_queries_are_answered_or_refused_never_a_500(alice, team, put, q):
    put(alice, team, "/report.txt", b"x")
    client, api = page_client(alice), _api(alice)
    for answer in (client.get("/search/", {"q": q}), client.get("/search/", {"q": q}, **HTMX),
                   api.get(URL, {"q": q})):
        assert answer.status_code in (200, 400), (q, answer.status_code, answer.content[:300])
        if answer.status_code == 400 and answer["Content-Type"].startswith("application/json"):
            assert answer.json()["code"] == "invalid_q"
    assert SearchDoc.objects.filter(name="report.txt").exists()


def test_a_10_kb_query_is_400_naming_q(alice, signed_in):
    answer = signed_in(alice).get(URL, {"q": "report " * 1500})
    assert answer.status_code == 400 and answer.json()["detail"]["field"] == "q"
    assert page_client(alice).get("/search/", {"q": "x" * 10_240}).status_code == 400


def test_like_wildcards_and_tsquery_operators_match_only_themselves(alice, team, put):
    put(alice, team, "/100% done_final.txt", b"")
    put(alice, team, "/other.txt", b"")
    assert names(alice, "%") == [] and names(alice, "_") == [] and names(alice, "\\") == []
    assert names(alice, "100%") == ["100% done_final.txt"]            # exact-name rank, no wildcard
    assert names(alice, "o | x") == [] and names(alice, "other & !x") == []
    assert names(alice, "!other") == ["other.txt"]                    # punctuation is not an operator


def test_one_chinese_character_finds_words_starting_with_it(alice, team, put):
    put(alice, team, "/财务报告.txt", b"x")
    put(alice, team, "/notes.txt", "今年的财务".encode())
    assert sorted(names(alice, "财")) == ["notes.txt", "财务报告.txt"]


def test_unicode_oddities_find_what_they_spell(alice, team, put):
    put(alice, team, "/café menu.txt", b"x")
    assert names(alice, "cafe\u0301") == names(alice, "café") == ["café menu.txt"]     # combining accent
    assert names(alice, "\u202emenu") == ["café menu.txt"]                           # RTL override ignored
    put(alice, team, "/ＲＥＰＯＲＴ ２０２４.txt", b"")
    assert names(alice, "report 2024") == names(alice, "ＲＥＰＯＲＴ") == ["ＲＥＰＯＲＴ ２０２４.txt"]   # full-width


# --- hostile filter input ------------------------------------------------------------------------

@pytest.mark.parametrize("params, field", [
    ({"modified_after": "2024-02-30"}, "modified_after"), ({"modified_after": "0000-01-01"}, "modified_after"),
    ({"modified_before": "99999-01-01"}, "modified_before"), ({"modified_after": "2024-01-01T25:00"}, "modified_after"),
    ({"modified_after": "2024-01-01\x00"}, "modified_after"), ({"size_min": "-5"}, "size_min"),
    ({"size_max": "1" * 30}, "size_max"), ({"size_min": "²"}, "size_min"), ({"size_max": "1e3"}, "size_max"),
    ({"size_min": "\x00"}, "size_min"), ({"type": "folder'--"}, "type"), ({"type": "\x00"}, "type"),
    ({"space": "1\x00"}, "space"),     ({"owner": "alice\x00"}, "owner"), ({"q": "report\x00"}, "q"),
])
def test_hostile_filters_are_400_naming_the_field(alice, signed_in, params, field):
    for answer in (signed_in(alice).get(URL, {"q": "report", **params}),
                   page_client(alice).get("/search/", {"q": "report", **params})):
        assert answer.status_code == 400, (params, answer.status_code, answer.content[:300])
    body = signed_in(alice).get(URL, {"q": "report", **params}).json()
    assert body["code"] == f"invalid_{field}" and body["detail"]["field"] == field


@pytest.mark.parametrize("space", [str(2**64 + 1), "-1", "0", "1e3", "²", "abc", " 1 1"])
def test_a_hostile_space_filter_is_the_404_of_a_missing_space(alice, signed_in, space):
    answer = signed_in(alice).get(URL, {"q": "report", "space": space})
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    assert page_client(alice).get("/search/", {"q": "report", "space": space}).status_code == 404


@pytest.mark.parametrize("owner", ["a" * 5000, "%", "_", "alice' OR '1'='1"])
def test_a_hostile_owner_filter_finds_nothing_or_is_400(alice, team, put, signed_in, owner):
    put(alice, team, "/report.txt", b"x")
    answer = signed_in(alice).get(URL, {"q": "report", "owner": owner})
    assert answer.status_code in (200, 400), answer.content[:300]
    if answer.status_code == 200:
        assert answer.json()["count"] == 0


@pytest.mark.parametrize("extra", [{"page": "0"}, {"page": "-1"}, {"page": "999999"}, {"page": "²"},
                                   {"page": "1" * 40}, {"page": "abc"}, {"page_size": "0"}, {"page_size": "-1"},
                                   {"page_size": "99999999999999999999"}, {"page_size": "²"},
                                   {"page": "last"}])
def test_hostile_paging_is_an_error_with_its_shape_or_a_page_never_a_500(alice, team, put, signed_in, extra):
    put(alice, team, "/report.txt", b"x")
    answer = signed_in(alice).get(URL, {"q": "report", **extra})
    assert answer.status_code in (200, 400, 404), answer.content[:300]
    if answer.status_code == 200:
        assert len(answer.json()["results"]) <= 1000
    else:
        assert answer.json()["code"]
    page = page_client(alice).get("/search/", {"q": "report", **extra})
    assert page.status_code == 200


def test_a_page_beyond_the_last_on_the_search_page_is_empty_not_an_error(alice, team, put):
    put(alice, team, "/report.txt", b"x")
    html = page_client(alice).get("/search/", {"q": "report", "page": "9999"}).content.decode()
    assert "report.txt" not in html.split("</form>")[-1]


# --- Recent and Shared with me ---------------------------------------------------------------------

def test_recent_hides_a_node_moved_to_a_space_i_cannot_read(alice, bob, team, put):
    from portal.files.services.downloads import download_record

    version = put(alice, team, "/takeover.txt", b"x")
    download_record(actor=bob, located=locate_path(bob, team.pk, "/takeover.txt"), version=version)
    assert [hit.name for hit, _ in selectors.recent_list(bob)] == ["takeover.txt"]
    mine = alice.memberships.exclude(space=team).get().space
    tree.node_move(actor=alice, node_id=version.node_id, path="/takeover.txt", space_id=mine.pk)
    assert selectors.recent_list(bob) == []
    assert "takeover" not in page_client(bob).get("/recent/").content.decode()


def test_shared_with_me_lists_only_live_links_addressed_to_me(alice, bob, team, put, make_user):
    from portal.shares.models import ShareLink

    plan = put(alice, team, "/Deals/plan.txt", b"x").node
    memo = put(alice, team, "/memo.txt", b"x").node
    revoked, _token = share_link_create(actor=alice, node_id=memo.pk, permission="download", audience="people",
                                emails=[bob.email])
    share_link_revoke(actor=alice, link_id=revoked.pk)
    expired, _token = share_link_create(actor=alice, node_id=memo.pk, permission="download", audience="people",
                                emails=[bob.email])
    ShareLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    dave = make_user(username="dave")
    share_link_create(actor=alice, node_id=memo.pk, permission="download", audience="people", emails=[dave.email])
    share_link_create(actor=alice, node_id=plan.pk, permission="download", audience="people", emails=[bob.email])
    tree.node_trash(actor=alice, node_id=locate_path(alice, team.pk, "/Deals").node.pk)   # plan is in the trash now
    assert list(selectors.links_to_me(bob)) == []
    page = page_client(bob).get("/shared/").content.decode()
    assert "memo.txt" not in page and "plan.txt" not in page and "/s/" not in page
    assert "memo.txt" in page_client(dave).get("/shared/").content.decode()


def test_shared_with_me_ignores_a_user_without_an_email_and_one_whose_address_only_contains_mine(
        alice, bob, team, put, make_user):
    memo = put(alice, team, "/memo.txt", b"x").node
    share_link_create(actor=alice, node_id=memo.pk, permission="download", audience="people",
                      emails=[f"x{bob.email}"])
    nobody = make_user(username="nomail", email="")
    assert list(selectors.links_to_me(bob)) == [] and list(selectors.links_to_me(nobody)) == []


# --- hostile files for the text extraction -------------------------------------------------------

def many_pages(count: int, last_page_text: str) -> bytes:
    """A PDF of ``count`` blank pages but the last, which shows ``last_page_text``."""
    shown = f"BT /F1 18 Tf 40 700 Td ({last_page_text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", b"<< /Length 0 >>\nstream\n\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               b"<< /Length %d >>\nstream\n" % len(shown) + shown + b"\nendstream"]
    for number in range(count):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 4 0 R >> >> >>" % (5 if number == count - 1 else 3))
    kids = b" ".join(b"%d 0 R" % number for number in range(6, len(objects) + 1))
    objects[1] = b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % count
    return pdf_of(objects)


def test_a_pdf_of_many_pages_is_read_up_to_the_page_cap(alice, team, put):
    assert "needle" in extract.pdf_text(many_pages(3, "needle"))
    put(alice, team, "/huge.pdf", many_pages(extract.PDF_PAGES + 500, "needle"))
    assert names(alice, "needle") == []                  # the last page is beyond the cap
    assert names(alice, "huge") == ["huge.pdf"]


def test_a_slow_pdf_stops_at_the_time_cap(monkeypatch):
    monkeypatch.setattr(extract, "PDF_SECONDS", -1.0)    # the deadline has passed before the first page
    assert extract.pdf_text(many_pages(3, "needle")) == ""


class Endless(io.RawIOBase):
    """``size`` bytes of text made as they are read (no 100 MB in the test's memory)."""

    def __init__(self, size: int, tail: bytes):
        self.size, self.tail, self.at = size, tail, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        count = min(len(buffer), self.size - self.at)
        phase = self.at % 12
        chunk = (b"lorem ipsum " * (count // 12 + 2))[phase:phase + count]
        tail_start = self.size - len(self.tail)
        if self.at + count > tail_start:       # the tail only in the last bytes
            cut = max(tail_start - self.at, 0)
            chunk = chunk[:cut] + self.tail[self.at + cut - tail_start:][:count - cut]
        buffer[:count] = chunk
        self.at += count
        return count


def test_a_100_mb_text_file_is_read_up_to_its_cap_with_bounded_memory(alice, team, monkeypatch):
    size = 100 * 1024 * 1024
    version = file_put(actor=alice, space_id=team.pk, path="/big.txt", fileobj=Endless(size, b" zebrafinch"),
                       size=size)
    assert scan_version(version.pk) == "clean"
    from portal.storage import get_store

    store, ranges = get_store(), []
    opened = type(store).open
    monkeypatch.setattr(type(store), "open", lambda self, key, **kw: ranges.append(kw) or opened(self, key, **kw))
    tracemalloc.start()
    try:
        text = extract.text_of(version)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ranges == [{"start": 0, "end": extract.TEXT_BYTES - 1}]
    assert len(text) == extract.TEXT_LIMIT and peak < 40 * 1024 * 1024
    assert names(alice, "lorem") == ["big.txt"] and names(alice, "zebrafinch") == []


def test_binary_garbage_named_txt_indexes_no_text(alice, team, put):
    import random

    garbage = random.Random(14).randbytes(2 * 1024 * 1024)   # read as GB18030 it was seconds of noise tokens
    put(alice, team, "/garbage.txt", garbage)
    assert SearchDoc.objects.get(name="garbage.txt").body_words == ""
    assert extract.decode(b"plain text with one \x00 in it") == ""


def test_utf16_and_gb18030_files_are_read(alice, team, put):
    put(alice, team, "/le-bom.txt", "\ufeffwombat 袋熊".encode("utf-16-le"))
    put(alice, team, "/be-bom.txt", "\ufeffplatypus 鸭嘴兽".encode("utf-16-be"))
    put(alice, team, "/le-plain.txt", "numbat anteater notes".encode("utf-16-le"))
    put(alice, team, "/gb.txt", "会计年度结算报表".encode("gb18030"))
    assert names(alice, "wombat") == names(alice, "袋熊") == ["le-bom.txt"]
    assert names(alice, "鸭嘴兽") == ["be-bom.txt"]
    assert names(alice, "numbat anteater") == ["le-plain.txt"]
    assert names(alice, "结算 报表") == ["gb.txt"]


# --- the same hostile queries on the embedded SQLite database (FTS5) ----------------------------

SQLITE_SCRIPT = r"""
import io, json, sys
import django
django.setup()
from django.core.management import call_command
from portal.celery import app
app.conf.task_always_eager = True
call_command("migrate", verbosity=0)
from portal.storage import get_store
get_store().ensure_bucket()
from portal.accounts.models import User
from portal.files.services.direct import file_put
from portal.search import params, query
from portal.search.query import Filters, terms_of
from portal.spaces.services import member_add, member_remove, space_create

alice = User.objects.create_user("alice", "alice@example.com", "pw-alice-123456")
bob = User.objects.create_user("bob", "bob@example.com", "pw-bob-123456")
team = space_create(actor=alice, name="Finance")
member_add(actor=alice, space_id=team.pk, username="bob", role="viewer")
for path in ("/100% done_final.txt", "/other.txt", "/report.txt"):
    file_put(actor=alice, space_id=team.pk, path=path, fileobj=io.BytesIO(b""), size=0)
answers = {}
for q in json.loads(sys.argv[1]):
    try:
        terms = params.terms_from({"q": q})
        answers[q] = [hit.name for hit in query.search(alice, terms)], query.count(alice, terms)
    except Exception as exc:
        answers[q] = type(exc).__name__
before = [hit.name for hit in query.search(bob, terms_of("report"))]
member_remove(actor=alice, space_id=team.pk, user_id=bob.pk)
print(json.dumps({"answers": answers, "before": before,
                  "after": [hit.name for hit in query.search(bob, terms_of("report"))]}))
"""


def test_hostile_queries_on_sqlite_fts5_are_answered_or_refused(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {key: value for key, value in os.environ.items() if key not in ("PORTAL_DATABASE_URL", "PORTAL_REDIS_URL")}
    (tmp_path / "var" / "static").mkdir(parents=True)
    env.update({"PORTAL_VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "portal.settings",
                "PORTAL_STORAGE": "local"})
    done = subprocess.run([sys.executable, "-c", SQLITE_SCRIPT, json.dumps(HOSTILE_Q)],
                          cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    answers = found["answers"]
    assert {q: a for q, a in answers.items() if isinstance(a, str) and a != "InvalidInput"} == {}
    assert answers["report\x00"] == "InvalidInput"
    assert answers["%"] == answers["_"] == answers["\\"] == [[], 0]
    assert answers["& | ! : * ( ) '"] == [[], 0]
    assert answers["report' ; DROP TABLE search_doc; --"][1] == 0      # every word must match
    assert answers["ＲＥＰＯＲＴ"] == [["report.txt"], 1]
    assert found["before"] == ["report.txt"] and found["after"] == []


# --- the race: an index task reads the tree, the node is trashed, the task writes ------------------

def _trash_between_read_and_write(monkeypatch, trash):
    """The first walk an index task reads is followed at once by ``trash()`` (a request that
    commits while the task is between its read and its write)."""
    from portal.search import index

    real, calls = index._place, []

    def place(node):
        answer = real(node)
        if not calls:
            calls.append(node.pk)
            trash()
        return answer

    monkeypatch.setattr(index, "_place", place)
    return calls


def test_a_trash_between_an_index_tasks_read_and_write_is_not_undone(alice, team, put, monkeypatch):
    node = put(alice, team, "/race.txt", b"photon").node
    calls = _trash_between_read_and_write(monkeypatch, lambda: tree.node_trash(actor=alice, node_id=node.pk))
    index_node(node.pk)
    assert calls == [node.pk]
    assert SearchDoc.objects.get(node=node).trashed and names(alice, "photon") == []


def test_a_trash_below_a_folder_during_its_subtree_rewrite_is_not_undone(alice, team, put, monkeypatch):
    put(alice, team, "/Lab/Inner/race.txt", b"photon")
    put(alice, team, "/Lab/kept.txt", b"photon")
    inner = locate_path(alice, team.pk, "/Lab/Inner").node
    folder = locate_path(alice, team.pk, "/Lab").node
    _trash_between_read_and_write(monkeypatch, lambda: tree.node_trash(actor=alice, node_id=inner.pk))
    index_node(folder.pk)              # a rename's task, say, rewriting every row below /Lab
    assert names(alice, "photon") == ["kept.txt"]
    folder2 = put(alice, team, "/Lab2/x.txt", b"").node.parent
    _trash_between_read_and_write(monkeypatch, lambda: tree.node_trash(actor=alice, node_id=folder2.pk))
    index_node(folder2.pk)
    assert names(alice, "lab2") == [] and names(alice, "x") == []


def test_a_move_to_another_space_between_an_index_tasks_read_and_write_is_not_undone(alice, bob, team, put,
                                                                                     monkeypatch):
    mine = alice.memberships.exclude(space=team).get().space
    node = put(alice, team, "/Deals/race.txt", b"").node
    put(alice, team, "/Deals/term sheet.txt", b"")
    folder = node.parent
    _trash_between_read_and_write(monkeypatch, lambda: tree.node_move(
        actor=alice, node_id=node.pk, path="/race.txt", space_id=mine.pk))
    index_node(node.pk)
    assert names(bob, "race") == [] and names(alice, "race") == ["race.txt"]
    _trash_between_read_and_write(monkeypatch, lambda: tree.node_move(
        actor=alice, node_id=folder.pk, path="/Deals", space_id=mine.pk))
    index_node(folder.pk)
    assert names(bob, "deals") == [] and names(bob, "term sheet") == []


@pytest.mark.parametrize("back", ["//evil.example/", "/\\evil.example", "\\\\evil.example", "javascript:alert(1)",
                                  "https:evil.example", " //evil.example", "http://testserver@evil.example/"])
def test_the_star_form_never_redirects_off_site(alice, team, put, back):
    node = put(alice, team, "/plan.txt", b"x").node
    answer = page_client(alice).post(f"/spaces/{team.pk}/items/{node.pk}/star", {"next": back})
    assert answer.status_code == 302 and answer["Location"] == "/starred/"
