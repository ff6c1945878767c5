"""The browser portal's views through Django's test client: every page
renders for a member, outsiders get 404, bad input is refused in place."""

from __future__ import annotations

import io

import pytest
from django.test import Client

from portal.files.models import Node
from portal.files.services.direct import file_put
from portal.shares.services import share_link_create
from portal.spaces.services import member_add, space_create
from tests.web.live import page_client

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}



@pytest.fixture
def world(alice, bob):
    space = space_create(actor=alice, name="Finance <b>&</b>")
    report = file_put(actor=alice, space_id=space.pk, path="/Reports/q3.txt",
                      fileobj=io.BytesIO(b"numbers"), size=7).node
    # New names cannot hold "<" any more (Windows refuses it); one stored before that rule must still be escaped.
    Node.objects.filter(pk=report.pk).update(name="q3 <script>.txt", name_key="q3 <script>.txt")
    report.refresh_from_db()
    link, _token = share_link_create(actor=alice, node_id=report.pk, permission="download")
    return {"space": space, "report": report, "folder": Node.objects.get(pk=report.parent_id), "link": link}


def test_every_page_renders_for_a_member_and_escapes_user_supplied_names(alice, world):
    client = page_client(alice)
    space, report = world["space"], world["report"]
    pages = ["/", "/spaces/", f"/spaces/{space.pk}/", f"/spaces/{space.pk}/?path=/Reports",
             f"/spaces/{space.pk}/trash/", f"/spaces/{space.pk}/settings/", "/links/",
             f"/links/{world['link'].pk}/", "/devices/", "/account/", "/account/password/",
             "/account/two-factor/"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "<script>.txt" not in response.content.decode(), url
        assert "Finance <b>" not in response.content.decode(), url
        assert "script-src 'self'" in response["Content-Security-Policy"], url
    panel = client.get(f"/spaces/{space.pk}/items/{report.pk}/", **HTMX)
    assert panel.status_code == 200 and "q3 &lt;script&gt;.txt" in panel.content.decode()
    dialog = client.get(f"/spaces/{space.pk}/items/{report.pk}/share", **HTMX)
    assert dialog.status_code == 200 and 'name="expires_on"' in dialog.content.decode()


def test_outsiders_get_404_for_spaces_items_links_and_settings(bob, world):
    client = page_client(bob)
    space, report = world["space"], world["report"]
    for url in [f"/spaces/{space.pk}/", f"/spaces/{space.pk}/trash/", f"/spaces/{space.pk}/settings/",
                f"/spaces/{space.pk}/items/{report.pk}/", f"/links/{world['link'].pk}/", "/devices/999999/"]:
        assert client.get(url).status_code == 404, url
    refused = client.post(f"/spaces/{space.pk}/items/{report.pk}/rename", {"name": "x.txt"}, **HTMX)
    assert refused.status_code == 404
    assert 'role="alert"' in refused.content.decode()


def test_signed_out_visitors_are_sent_to_the_login_form(world):
    response = Client().get(f"/spaces/{world['space'].pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_bad_input_is_refused_in_place_with_the_errors_status(alice, world):
    client = page_client(alice)
    space, report = world["space"], world["report"]
    empty = client.post(f"/spaces/{space.pk}/folders", {"path": "/", "name": "  "}, **HTMX)
    assert empty.status_code == 400 and 'role="alert"' in empty.content.decode()
    bad_name = client.post(f"/spaces/{space.pk}/items/{report.pk}/rename", {"name": "a/b"}, **HTMX)
    assert bad_name.status_code == 400
    nothing = client.post(f"/spaces/{space.pk}/bulk", {"action": "delete", "path": "/"}, **HTMX)
    assert nothing.status_code == 400
    weak = client.post(f"/spaces/{space.pk}/items/{report.pk}/share",
                       {"permission": "download", "audience": "anyone", "password": "123456789"}, **HTMX)
    assert weak.status_code == 400
    body = weak.content.decode()
    assert 'id="share-password"' in body and 'role="alert"' in body  # the form again, the error at its field


def test_a_folder_is_created_renamed_moved_and_trashed_through_the_pages(alice, world):
    client = page_client(alice)
    space, report = world["space"], world["report"]
    made = client.post(f"/spaces/{space.pk}/folders", {"path": "/", "name": "Archive"}, **HTMX)
    assert made.status_code == 200 and "Archive" in made.content.decode()
    moved = client.post(f"/spaces/{space.pk}/items/{report.pk}/move",
                        {"path": "/Reports", "destination": "/Archive"}, **HTMX)
    assert moved.status_code == 200
    report.refresh_from_db()
    assert Node.objects.get(pk=report.parent_id).name == "Archive"
    client.post(f"/spaces/{space.pk}/items/{report.pk}/rename", {"name": "q3.txt", "path": "/Archive"}, **HTMX)
    report.refresh_from_db()
    assert report.name == "q3.txt"
    client.post(f"/spaces/{space.pk}/items/{report.pk}/delete", {"path": "/Archive"}, **HTMX)
    report.refresh_from_db()
    assert report.trashed_at is not None
    trash = client.get(f"/spaces/{space.pk}/trash/")
    assert "q3.txt" in trash.content.decode()


def test_a_viewer_cannot_lock_and_sees_the_reason(alice, bob, world):
    member_add(actor=alice, space_id=world["space"].pk, username="bob", role="viewer")
    refused = page_client(bob).post(f"/spaces/{world['space'].pk}/items/{world['report'].pk}/lock", {}, **HTMX)
    assert refused.status_code == 403 and 'role="alert"' in refused.content.decode()


def test_the_language_follows_the_browser_and_the_switcher(alice, world):
    client = page_client(alice)
    chinese = client.get("/spaces/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert "我的空间" in chinese.content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/spaces/"})
    assert "My spaces" in client.get("/spaces/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
