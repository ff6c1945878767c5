"""The find pages through Django's test client: the search page and the
header's dropdown, Recent, Starred (and the star toggle), Shared with me."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.files.selectors import locate_path, space_root
from portal.files.services import tree
from portal.files.services.downloads import download_record
from portal.search import selectors
from portal.search.models import Star
from portal.search.services import star_toggle
from portal.shares.services import share_link_create
from portal.spaces.models import Membership
from portal.spaces.services import member_remove
from tests.web.live import page_client

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_the_search_page_lists_hits_with_links_to_open_them_and_their_folder(alice, team, put):
    version = put(alice, team, "/Reports/季度财务报告.txt", b"x")
    page = page_client(alice).get("/search/", {"q": "财务 报告"})
    html = page.content.decode()
    assert page.status_code == 200
    assert f'href="/spaces/{team.pk}/items/{version.node_id}/view"' in html
    assert f'href="/spaces/{team.pk}/?path=/Reports"' in html
    assert "Finance" in html and 'name="modified_after"' in html


def test_the_header_box_gets_a_dropdown_fragment_as_the_user_types(alice, team, put):
    put(alice, team, "/Budget/plan.txt", b"x")
    fragment = page_client(alice).get("/search/", {"q": "pla"}, HTTP_HX_TARGET="search-dropdown", **HTMX)
    html = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in html
    assert "plan.txt" in html and "/Budget" in html and "/search/?q=pla" in html
    nothing = page_client(alice).get("/search/", {"q": "zebra"}, HTTP_HX_TARGET="search-dropdown", **HTMX)
    assert "Nothing matches" in nothing.content.decode()


def test_empty_states_say_what_to_do(alice):
    client = page_client(alice)
    assert "Type a file" in client.get("/search/").content.decode()
    assert "Check the spelling" in client.get("/search/", {"q": "nothing-here"}).content.decode()
    assert "Open a space to start" in client.get("/recent/").content.decode()
    assert "No starred items yet" in client.get("/starred/").content.decode()
    shared = client.get("/shared/").content.decode()
    assert "No links are addressed to you" in shared


def test_search_page_bad_filter_is_400_and_outsider_space_404(alice, secret):
    board, _carol = secret
    client = page_client(alice)
    assert client.get("/search/", {"q": "a", "type": "bogus"}).status_code == 400
    assert client.get("/search/", {"q": "a", "space": board.pk}).status_code == 404


def test_the_page_filters_sizes_written_with_their_units(alice, team, put):
    put(alice, team, "/big plan.txt", b"p" * 3000)
    put(alice, team, "/small plan.txt", b"p")
    client = page_client(alice)
    at_least = client.get("/search/", {"q": "plan", "size_min": "2 KB"}).content.decode()
    assert "big plan.txt" in at_least and "small plan.txt" not in at_least
    at_most = client.get("/search/", {"q": "plan", "size_max": "１ kb"}).content.decode()   # full-width digit
    assert "small plan.txt" in at_most and "big plan.txt" not in at_most
    assert 'value="2 KB"' in at_least                   # the filter is shown as typed
    refused = client.get("/search/", {"q": "plan", "size_min": "2 parsecs"})
    assert refused.status_code == 400 and "10 MB" in refused.content.decode()


def test_star_toggles_and_is_audited(alice, team, put):
    node = put(alice, team, "/plan.txt", b"x").node
    client = page_client(alice)
    url = f"/spaces/{team.pk}/items/{node.pk}/star"
    starred = client.post(url, **HTMX)
    assert starred.status_code == 200 and 'aria-pressed="true"' in starred.content.decode()
    assert Star.objects.filter(user=alice, node=node).exists()
    plain = client.post(url, {"next": "/recent/"})
    assert plain.status_code == 302 and plain["Location"] == "/recent/"
    assert not Star.objects.filter(user=alice, node=node).exists()
    actions = list(AuditEvent.objects.filter(target_type="node", target_id=str(node.pk),
                                             action__startswith="file.").values_list("action", flat=True))
    assert actions[:2] == ["file.unstarred", "file.starred"]
    assert client.post(url, {"next": "https://evil.example/"})["Location"] == "/starred/"


def test_star_refuses_outsiders_with_404_and_bad_input(alice, bob, team, put, secret):
    board, carol = secret
    theirs = put(carol, board, "/board.txt", b"x").node
    client = page_client(alice)
    assert client.post(f"/spaces/{board.pk}/items/{theirs.pk}/star").status_code == 404
    assert client.post(f"/spaces/{team.pk}/items/999999999/star").status_code == 404
    mine = put(alice, team, "/a.txt", b"x").node
    assert client.post(f"/spaces/{board.pk}/items/{mine.pk}/star").status_code == 404   # not that space's
    assert client.post(f"/spaces/{team.pk}/items/{space_root(team).pk}/star").status_code == 400
    assert client.get(f"/spaces/{team.pk}/items/{mine.pk}/star").status_code == 405
    assert not Star.objects.exists()


def test_starred_lists_what_i_can_still_read_and_hides_the_trash(alice, bob, team, put):
    plan = put(alice, team, "/plan.txt", b"x").node
    memo = put(alice, team, "/memo.txt", b"x").node
    star_toggle(actor=bob, node_id=plan.pk)
    star_toggle(actor=bob, node_id=memo.pk)
    assert [hit.name for hit, _ in selectors.starred_list(bob)] == ["memo.txt", "plan.txt"]
    tree.node_trash(actor=alice, node_id=memo.pk)
    page = page_client(bob).get("/starred/").content.decode()
    assert "plan.txt" in page and "memo.txt" not in page and "★" in page
    member_remove(actor=alice, space_id=team.pk, user_id=bob.pk)
    assert selectors.starred_list(bob) == []


def test_recent_lists_what_i_touched_once_each_newest_first(alice, bob, team, put):
    plan = put(alice, team, "/plan.txt", b"x")
    memo = put(alice, team, "/memo.txt", b"x")
    for version in (plan, memo, plan):
        download_record(actor=bob, located=locate_path(bob, team.pk, "/" + version.node.name), version=version)
    assert [hit.name for hit, _ in selectors.recent_list(bob)] == ["plan.txt", "memo.txt"]
    assert [hit.name for hit, _ in selectors.recent_list(alice)] == ["memo.txt", "plan.txt"]   # uploads
    page = page_client(bob).get("/recent/").content.decode()
    assert page.index("plan.txt") < page.index("memo.txt")
    member_remove(actor=alice, space_id=team.pk, user_id=bob.pk)
    assert selectors.recent_list(bob) == []


def test_recent_is_one_query(alice, team, put, django_assert_num_queries):
    put(alice, team, "/a.txt", b"x")
    put(alice, team, "/b.txt", b"x")
    with django_assert_num_queries(1):
        assert len(selectors.recent_list(alice)) == 2


def test_shared_with_me_lists_links_addressed_to_me_and_spaces_i_joined(alice, bob, team, put, make_user):
    node = put(alice, team, "/plan.txt", b"x").node
    share_link_create(actor=alice, node_id=node.pk, permission="download", audience="people",
                      emails=[bob.email.upper()])
    share_link_create(actor=alice, node_id=node.pk, permission="download")   # anyone: not addressed to bob
    dave = make_user(username="dave")
    share_link_create(actor=alice, node_id=node.pk, permission="preview", audience="people", emails=[dave.email])
    links = list(selectors.links_to_me(bob))
    assert len(links) == 1 and links[0].audience == "people"
    page = page_client(bob).get("/shared/").content.decode()
    assert "plan.txt" in page and "/s/" in page and "Finance" in page
    Membership.objects.filter(user=bob, space=team).update(created_at=timezone.now() - timedelta(days=45))
    assert list(selectors.spaces_joined_recently(bob)) == []
    assert "Finance" not in page_client(bob).get("/shared/").content.decode().split("Spaces you joined")[1]
