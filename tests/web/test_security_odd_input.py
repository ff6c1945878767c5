"""Input an attacker types on purpose, sent over real HTTP to the live server:
characters Python calls digits that are not ("²", "³"), and NUL, which
PostgreSQL text cannot hold. Each gets a 4xx (or is ignored where it is only
a filter), never a 500."""

from __future__ import annotations

import socket

import pytest
import requests

from portal.accounts.services import token_issue
from portal.spaces.models import Membership
from portal.spaces.services import space_create
from tests.web.live import signed_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def space_with_a_file(alice):
    from tests.files.conftest import Uploader
    from rest_framework.test import APIClient

    space = space_create(actor=alice, name="Team")
    client = APIClient()
    client.force_authenticate(user=alice)
    node = Uploader()(client, space, "/plan.txt", b"plan\n")
    link = client.post("/api/v1/shares", {"node": node["id"], "permission": "download"}, format="json").json()
    return space, node, link


@pytest.mark.parametrize("odd", ["²", "³", "١٢x"])
def test_a_superscript_digit_as_a_link_limit_is_refused_with_400(live_server, alice, space_with_a_file, odd):
    space, node, link = space_with_a_file
    browser = signed_in(live_server.url, "alice")
    for name in ("max_downloads", "max_previews"):
        edit = browser.post(f"{live_server.url}/links/{link['id']}/edit", data={name: odd}, allow_redirects=False)
        assert edit.status_code == 400, (name, edit.status_code)
    dialog = browser.post(f"{live_server.url}/spaces/{space.pk}/items/{node['id']}/share",
                          data={"permission": "download", "audience": "anyone", "max_downloads": odd})
    assert dialog.status_code == 400


def test_a_nul_in_the_file_filter_or_an_odd_page_number_shows_the_folder(live_server, alice, space_with_a_file):
    space, _, _ = space_with_a_file
    browser = signed_in(live_server.url, "alice")
    for query in ("q=%00", "q=pl%00an", "page=%C2%B2"):
        page = browser.get(f"{live_server.url}/spaces/{space.pk}/?{query}")
        assert page.status_code == 200, (query, page.status_code)


def test_a_nul_in_a_username_to_add_is_refused_with_400(live_server, alice, make_user, space_with_a_file):
    space, _, _ = space_with_a_file
    make_user(username="bob")
    browser = signed_in(live_server.url, "alice")
    added = browser.post(f"{live_server.url}/spaces/{space.pk}/settings/member-add",
                         data={"username": "bob\x00", "role": "viewer"})
    assert added.status_code == 400
    assert not Membership.objects.filter(space=space, user__username="bob").exists()


def test_a_superscript_digit_in_an_audit_export_filter_is_refused_back_to_the_list(live_server, make_user):
    make_user(username="root", is_staff=True, is_superuser=True)
    browser = signed_in(live_server.url, "root")
    export = browser.get(f"{live_server.url}/admin/audit/auditevent/export/csv/?actor__id__exact=%C2%B2",
                         allow_redirects=False)
    assert export.status_code == 302 and export.headers["Location"] == "/admin/audit/auditevent/"


def test_a_superscript_content_length_on_a_signed_part_url_is_refused(live_server, alice, space_with_a_file):
    space, _, _ = space_with_a_file
    _, token = token_issue(actor=alice, owner=alice, name="script")
    started = requests.post(f"{live_server.url}/api/v1/uploads", json={"space": space.pk, "path": "/b.bin", "size": 2},
                            headers={"Authorization": f"Bearer {token}"})
    assert started.status_code == 201, started.text
    part = started.json()["parts"][0]["url"].split("/", 3)[3]
    host, port = live_server.url.rsplit("/", 1)[1].split(":")
    request = (f"PUT /{part} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: \xb2\r\n"
               "Connection: close\r\n\r\nxx").encode("latin-1")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(request)
        status = int(conn.makefile("rb").readline().split()[1])
    assert 400 <= status < 500
