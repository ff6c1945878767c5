"""The file manager's endpoints through Django's test client: the upload
conflict check, the new-folder answers (an existing name is refused, ``a/b``
says "a/b"), trash and its Undo, the drawer's activity and links, the left
navigation, the quota bar swapped with every change, and the 403 page."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse

from portal.files.models import Node
from portal.files.services.direct import file_put
from portal.shares.services import share_link_create
from portal.spaces.services import member_add, space_create
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


def _check(client, space, *paths):
    return client.post(f"/spaces/{space.pk}/upload-check", {"path": list(paths)})


def test_the_upload_check_names_taken_paths_with_a_free_keep_both_name(alice, team):
    _put(alice, team, "/Docs/a.txt")
    _put(alice, team, "/Docs/a (1).txt")
    _put(alice, team, "/README")
    answer = _check(page_client(alice), team, "/docs/A.txt", "/Docs/new.txt", "/README", "/Nowhere/a.txt")
    assert answer.status_code == 200
    assert answer.json() == {"conflicts": [
        {"path": "/docs/A.txt", "free": "/docs/A (2).txt"},
        {"path": "/README", "free": "/README (1)"},
    ]}


def test_the_upload_check_is_404_for_outsiders_403_for_viewers_and_401_signed_out(alice, bob, team, make_user):
    _put(alice, team, "/a.txt")
    outsider = make_user(username="mallory")
    assert _check(page_client(outsider), team, "/a.txt").status_code == 404
    assert _check(page_client(outsider), team, "/a.txt").json()["code"] != "name_taken"
    assert _check(page_client(bob), team, "/a.txt").status_code == 403
    assert _check(Client(), team, "/a.txt").status_code == 401


def test_the_upload_check_refuses_bad_input(alice, team):
    client = page_client(alice)
    assert _check(client, team).json()["code"] == "invalid_paths"
    assert _check(client, team, "/").status_code == 400
    assert _check(client, team, "relative.txt").status_code == 400
    assert _check(client, team, *[f"/f{i}" for i in range(2001)]).status_code == 400
    assert client.get(f"/spaces/{team.pk}/upload-check").status_code == 405


def test_a_new_folder_says_what_was_made_and_refuses_an_existing_name(alice, team):
    client = page_client(alice)
    made = client.post(f"/spaces/{team.pk}/folders", {"name": "a/b", "path": "/"}, **HTMX)
    assert made.status_code == 200
    assert "Folder “a/b” created." in made.content.decode()
    assert Node.objects.filter(space=team, name="b", parent__name="a").exists()
    again = client.post(f"/spaces/{team.pk}/folders", {"name": "A", "path": "/"}, **HTMX)
    assert again.status_code == 409
    assert "A folder named “a” already exists here" in again.content.decode()  # the name as stored
    nested = client.post(f"/spaces/{team.pk}/folders", {"name": "b", "path": "/a"}, **HTMX)
    assert nested.status_code == 409 and "“b” already exists" in nested.content.decode()
    blank = client.post(f"/spaces/{team.pk}/folders", {"name": " / ", "path": "/"}, **HTMX)
    assert blank.status_code == 400


def test_trash_answers_with_an_undo_that_restores(alice, team):
    doc = _put(alice, team, "/doc.txt")
    client = page_client(alice)
    trashed = client.post(f"/spaces/{team.pk}/bulk", {"action": "delete", "ids": [doc.pk], "path": "/"}, **HTMX)
    html = trashed.content.decode()
    assert trashed.status_code == 200 and "“doc.txt” moved to the trash." in html
    assert 'name="action" value="restore"' in html and f'name="ids" value="{doc.pk}"' in html
    assert trashed["HX-Trigger"] == "coffer:changed"
    assert 'id="quota-box" class="quota-box" hx-swap-oob="true"' in html
    doc.refresh_from_db()
    assert doc.trashed_at is not None
    undone = client.post(f"/spaces/{team.pk}/bulk", {"action": "restore", "ids": [doc.pk], "path": "/"}, **HTMX)
    assert undone.status_code == 200 and "“doc.txt” restored." in undone.content.decode()
    doc.refresh_from_db()
    assert doc.trashed_at is None


def test_bulk_refuses_outsiders_and_unknown_actions(alice, team, make_user):
    doc = _put(alice, team, "/doc.txt")
    outsider = page_client(make_user(username="mallory"))
    assert outsider.post(f"/spaces/{team.pk}/bulk", {"action": "restore", "ids": [doc.pk]}, **HTMX).status_code == 404
    assert outsider.post(f"/spaces/{team.pk}/bulk", {"action": "delete", "ids": [doc.pk]}, **HTMX).status_code == 404
    client = page_client(alice)
    assert client.post(f"/spaces/{team.pk}/bulk", {"action": "shred", "ids": [doc.pk]}, **HTMX).status_code == 400
    assert client.post(f"/spaces/{team.pk}/bulk", {"action": "restore", "ids": [doc.pk]}, **HTMX).status_code == 404


def test_the_drawer_shows_versions_links_and_the_items_latest_activity(alice, bob, team):
    doc = _put(alice, team, "/doc.txt")
    _put(alice, team, "/doc.txt", b"second")
    share_link_create(actor=alice, node_id=doc.pk, permission="download")
    html = page_client(alice).get(f"/spaces/{team.pk}/items/{doc.pk}/", **HTMX).content.decode()
    assert "Version 2" in html and "Version 1" in html
    assert 'href="/links/' in html
    assert "alice uploaded /doc.txt" in html
    assert page_client(bob).get(f"/spaces/{team.pk}/items/{doc.pk}/", **HTMX).status_code == 200


def test_the_drawer_is_404_for_outsiders(alice, team, make_user):
    doc = _put(alice, team, "/doc.txt")
    outsider = page_client(make_user(username="mallory"))
    assert outsider.get(f"/spaces/{team.pk}/items/{doc.pk}/", **HTMX).status_code == 404


def test_the_left_navigation_lists_my_spaces_and_the_trash_of_the_current_one(alice, team):
    space_create(actor=alice, name="Side project")
    html = page_client(alice).get(f"/spaces/{team.pk}/").content.decode()
    nav = html[html.index('id="sidenav"'):html.index("</nav>", html.index('id="sidenav"'))]
    assert "Side project" in nav and f'href="/spaces/{team.pk}/" aria-current="page"' in nav
    assert f'href="/spaces/{team.pk}/trash/"' in nav and 'href="/starred/"' in nav and 'href="/shared/"' in nav
    assert f"/dav/{team.slug}/" in html and "app password" in html


def test_a_viewer_refused_gets_the_portals_403_page(bob, team):
    answer = page_client(bob).post(f"/spaces/{team.pk}/folders", {"name": "x", "path": "/"})
    assert answer.status_code == 403
    html = answer.content.decode()
    assert "Not allowed" in html and 'id="sidenav"' in html


def test_an_empty_folder_says_what_to_do(alice, bob, team):
    assert "Drop files here, or use Upload or New folder above." in page_client(alice).get(
        f"/spaces/{team.pk}/").content.decode()
    assert "Members who may edit this space can add files here." in page_client(bob).get(
        f"/spaces/{team.pk}/").content.decode()


def test_the_thumbnail_lookup_is_asked_once_per_page_and_only_for_files(alice, team, monkeypatch):
    from portal.previews import selectors as previews

    _put(alice, team, "/a.png")
    _put(alice, team, "/b.png")
    _put(alice, team, "/Folder/c.txt")
    asked = []
    monkeypatch.setattr(previews, "thumbnail_urls", lambda nodes: asked.append([n.name for n in nodes]) or {
        n.pk: "/static/x.png" for n in nodes if n.name == "a.png"})
    html = page_client(alice).get(f"/spaces/{team.pk}/").content.decode()
    assert asked == [["a.png", "b.png"]]
    assert html.count('class="thumb"') == 1 and 'src="/static/x.png"' in html


def test_the_403_handler_answers_pages_with_the_portals_page_and_the_api_with_json(rf, alice):
    from portal.web.views import permission_denied

    request = rf.get("/spaces/1/")
    request.user = alice
    page = permission_denied(request)
    assert page.status_code == 403 and "Not allowed" in page.content.decode()
    api = permission_denied(rf.get("/api/v1/spaces"))
    assert api.status_code == 403 and api["Content-Type"] == "application/json"


def test_the_move_dialog_asks_for_the_space_folder_paths_when_it_opens(alice, bob, make_user):
    from portal.files.services import tree

    space = space_create(actor=alice, name="Paths")
    tree.folder_create(actor=alice, space_id=space.pk, path="/Reports/2026")
    url = reverse("web:folders", args=[space.pk])
    page = page_client(alice).get(reverse("web:browser", args=[space.pk])).content.decode()
    assert f'data-url="{url}"' in page and "/Reports/2026" not in page    # not on every page view
    options = page_client(alice).get(url)
    assert options.status_code == 200
    assert '<option value="/Reports">' in options.content.decode()
    assert '<option value="/Reports/2026">' in options.content.decode()
    assert page_client(bob).get(url).status_code == 404                   # an outsider
    assert page_client(alice).post(url).status_code == 405                # read only
    assert page_client(alice).get(reverse("web:folders", args=[2**63])).status_code == 404
