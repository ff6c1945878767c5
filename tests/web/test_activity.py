"""Activity streams: a space's (its files in every folder) on a page of its
own, a file's in the details drawer; translated sentences, newest first,
"Older" pages through htmx; members and administrators read them,
outsiders get 404, and so does a colleague who holds only a share."""

from __future__ import annotations

import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.files.models import Node
from portal.files.services.direct import file_put
from portal.shares.services import share_link_create
from portal.spaces.services import member_add, space_create
from portal.web import activity
from tests.web.live import page_client

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _put(user, space, path: str, body: bytes = b"x") -> Node:
    return file_put(actor=user, space_id=space.pk, path=path, fileobj=io.BytesIO(body), size=len(body)).node


@pytest.fixture
def team(alice, bob):
    space = space_create(actor=alice, name="Team")
    member_add(actor=alice, space_id=space.pk, username="bob", role="viewer")
    return space


def _sentences(html: str) -> list[str]:
    return [s.strip() for s in re.findall(r'<span class="activity-sentence">(.*?)</span>', html, re.S)]


def test_a_member_reads_the_space_stream_with_files_in_subfolders_newest_first(alice, bob, team):
    _put(alice, team, "/top.txt")
    _put(alice, team, "/Deep/er/down.txt")
    response = page_client(bob).get(f"/spaces/{team.pk}/activity/")
    assert response.status_code == 200
    sentences = _sentences(response.content.decode())
    assert sentences[0] == "alice uploaded /Deep/er/down.txt"
    assert "alice uploaded /top.txt" in sentences
    assert "alice added bob to Team as viewer" in sentences
    assert "from 127.0.0.1" not in response.content.decode()  # addresses stay in the audit panel


def test_the_space_stream_is_404_for_outsiders_and_open_to_administrators(alice, team, make_user, admin):
    _put(alice, team, "/top.txt")
    assert page_client(make_user(username="mallory")).get(f"/spaces/{team.pk}/activity/").status_code == 404
    assert page_client(alice).get("/spaces/999999/activity/").status_code == 404
    assert "alice uploaded /top.txt" in page_client(admin).get(f"/spaces/{team.pk}/activity/").content.decode()


def test_the_space_stream_refuses_a_bad_page_key(alice, team):
    client = page_client(alice)
    for bad in ("abc", "-1", "0", "9" * 30, "１２"):
        response = client.get(f"/spaces/{team.pk}/activity/", {"before": bad})
        assert response.status_code == 400, bad
        assert "reload the page" in response.content.decode()


def test_older_pages_follow_each_other_without_gaps_or_repeats(alice, team):
    for n in range(activity.PAGE_SIZE + 5):
        _put(alice, team, f"/f{n:02}.txt")
    client = page_client(alice)
    html = client.get(f"/spaces/{team.pk}/activity/").content.decode()
    first = _sentences(html)
    assert len(first) == activity.PAGE_SIZE
    before = re.search(r'hx-get="[^"]*\?before=(\d+)"', html)[1]
    more = client.get(f"/spaces/{team.pk}/activity/", {"before": before}, **HTMX)
    assert more.status_code == 200 and "<html" not in more.content.decode()  # only the entries
    rest = _sentences(more.content.decode())
    total = AuditEvent.objects.filter(space=team).count()
    assert len(first) + len(rest) == total and not set(first) & set(rest)
    assert "?before=" not in more.content.decode()  # the end
    assert rest[-1] == "alice created the space Team"


def test_a_page_of_the_stream_is_one_query_after_the_access_check(alice, team):
    for n in range(12):
        _put(alice, team, f"/Sub/f{n}.txt")
    with CaptureQueriesContext(connection) as queries:
        page = activity.space_events(team)
    assert len(queries) == 1 and len(page.entries) == 12 + 2  # uploads, the folder, the space


def test_the_drawer_shows_the_files_stream_with_its_link_downloads_and_pages_it(alice, bob, team):
    doc = _put(alice, team, "/doc.txt")
    _put(alice, team, "/other.txt")
    share_link_create(actor=alice, node_id=doc.pk, permission="download")
    for _ in range(activity.PAGE_SIZE):
        _put(alice, team, "/doc.txt", b"again")
    html = page_client(bob).get(f"/spaces/{team.pk}/items/{doc.pk}/", **HTMX).content.decode()
    sentences = _sentences(html)
    assert len(sentences) == activity.PAGE_SIZE and "alice uploaded /other.txt" not in sentences
    url = re.search(r'hx-get="(/spaces/\d+/items/\d+/activity\?before=\d+)"', html)[1]
    rest = _sentences(page_client(bob).get(url, **HTMX).content.decode())
    assert rest[-1] == "alice uploaded /doc.txt" and any(s.startswith("alice created link") for s in rest)


def test_the_file_stream_is_404_for_outsiders_and_other_spaces_and_400_for_bad_keys(alice, team, make_user):
    doc = _put(alice, team, "/doc.txt")
    elsewhere = space_create(actor=alice, name="Elsewhere")
    url = f"/spaces/{team.pk}/items/{doc.pk}/activity"
    assert page_client(make_user(username="mallory")).get(url, **HTMX).status_code == 404
    assert page_client(alice).get(f"/spaces/{elsewhere.pk}/items/{doc.pk}/activity", **HTMX).status_code == 404
    assert page_client(alice).get(url, {"before": "x"}, **HTMX).status_code == 400
    assert page_client(alice).get(url, **HTMX).status_code == 200


def test_failed_unlocks_and_access_codes_stay_out_of_the_stream(alice, team):
    doc = _put(alice, team, "/doc.txt")
    link = share_link_create(actor=alice, node_id=doc.pk, permission="download")[0]
    from portal.audit.services import record

    record(action=Action.SHARE_CODE_SENT, target=link, target_label=f"link {link.pk} on /doc.txt", space=team,
           details={"email": "guest@example.com"})
    html = page_client(alice).get(f"/spaces/{team.pk}/activity/").content.decode()
    assert "guest@example.com" not in html and "alice uploaded /doc.txt" in html


def test_the_stream_reads_in_chinese(alice, team):
    _put(alice, team, "/doc.txt")
    client = page_client(alice)
    client.cookies["django_language"] = "zh-hans"
    html = client.get(f"/spaces/{team.pk}/activity/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "alice 上传了 /doc.txt" in _sentences(html)
    assert "分钟" in html  # the relative time ("0 分钟 …")


def test_a_colleague_who_holds_only_a_share_does_not_read_the_spaces_activity(alice, team, make_user):
    from portal.shares.services import internal_share_create

    doc = _put(alice, team, "/Shared/doc.txt")
    carol = make_user(username="carol")
    internal_share_create(actor=alice, node_id=doc.pk, user=carol, role="viewer")
    client = page_client(carol)
    drawer = client.get(f"/spaces/{team.pk}/items/{doc.pk}/", **HTMX)
    assert drawer.status_code == 200  # the file is hers to read…
    assert _sentences(drawer.content.decode()) == []  # …not who did what in the space
    assert "for its members" in drawer.content.decode()
    assert client.get(f"/spaces/{team.pk}/items/{doc.pk}/activity", **HTMX).status_code == 404
    assert client.get(f"/spaces/{team.pk}/activity/").status_code == 404
