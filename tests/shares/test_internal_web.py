"""The pages of sharing with colleagues: Shared with me, a shared folder seen
from itself down, the viewer of a shared file, the share dialog's Share with
people (success, outsider, bad input)."""

from __future__ import annotations

import pytest

from portal.shares import services
from portal.shares.models import InternalShare
from tests.shares.test_internal_shares import tree  # noqa: F401 - the same tree
from tests.files.conftest import signed_in, team, upload  # noqa: F401 - shared fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_bob(client, bob):
    client.force_login(bob)
    return client


def test_shared_with_me_lists_the_share_and_the_folder_opens_from_itself_down(as_bob, alice, bob, tree):  # noqa: F811
    services.internal_share_create(actor=alice, node_id=tree["/Project"], user=bob, role="viewer")
    page = as_bob.get("/shared/")
    assert page.status_code == 200 and f'href="/shared/{tree["/Project"]}/"'.encode() in page.content
    folder = as_bob.get(f"/shared/{tree['/Project/sub']}/")
    assert folder.status_code == 200
    text = folder.content.decode()
    assert "b.txt" in text and f"/shared/{tree['/Project']}/" in text  # the crumbs start at the shared folder
    assert "Secret.txt" not in text and f"/shared/{tree['/']}/" not in text and "?path=" not in text


def test_the_folder_above_and_a_file_are_not_folder_pages(as_bob, alice, bob, tree):  # noqa: F811
    services.internal_share_create(actor=alice, node_id=tree["/Project"], user=bob, role="viewer")
    assert as_bob.get(f"/shared/{tree['/']}/").status_code == 404
    assert as_bob.get(f"/shared/{tree['/Project/a.txt']}/").status_code == 400
    assert as_bob.get("/shared/999999999/").status_code == 404


def test_a_file_shared_alone_opens_in_the_viewer_without_its_neighbours(as_bob, alice, bob, tree, team):  # noqa: F811
    services.internal_share_create(actor=alice, node_id=tree["/Project/a.txt"], user=bob, role="viewer")
    page = as_bob.get("/shared/")
    assert f"/spaces/{team.pk}/items/{tree['/Project/a.txt']}/view".encode() in page.content
    viewer = as_bob.get(f"/spaces/{team.pk}/items/{tree['/Project/a.txt']}/view")
    assert viewer.status_code == 200
    assert b'id="viewer-next" rel="next"' not in viewer.content and b'rel="prev"' not in viewer.content
    assert b'href="/shared/"' in viewer.content  # Close goes back to Shared with me
    assert as_bob.get(f"/spaces/{team.pk}/items/{tree['/Secret.txt']}/view").status_code == 404


def test_share_with_people_from_the_dialog(client, alice, bob, tree, team):  # noqa: F811
    client.force_login(alice)
    url = f"/spaces/{team.pk}/items/{tree['/Project']}/share/people"
    dialog = client.get(f"/spaces/{team.pk}/items/{tree['/Project']}/share")
    assert b"Share with people" in dialog.content
    made = client.post(url, {"user": "bob", "role": "editor", "expires_on": ""}, HTTP_HX_REQUEST="true")
    assert made.status_code == 200 and b"bob" in made.content
    share = InternalShare.objects.get(user=bob)
    assert share.role == "editor" and share.expires_at is None
    bad = client.post(url, {"user": "nobody", "role": "viewer"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 400 and b'role="alert"' in bad.content
    removed = client.post(f"/shared/people/{share.pk}/remove", HTTP_HX_REQUEST="true")
    assert removed.status_code == 200
    assert InternalShare.objects.get(pk=share.pk).revoked_at is not None


def test_outsiders_cannot_share_or_remove(as_bob, alice, bob, tree, team, make_user):  # noqa: F811
    share = services.internal_share_create(actor=alice, node_id=tree["/Project"], user=make_user(username="carol"),
                                           role="viewer")
    url = f"/spaces/{team.pk}/items/{tree['/Project']}/share/people"
    assert as_bob.post(url, {"user": "carol", "role": "viewer"}, HTTP_HX_REQUEST="true").status_code == 404
    assert as_bob.post(f"/shared/people/{share.pk}/remove", HTTP_HX_REQUEST="true").status_code == 404
    assert InternalShare.objects.get(pk=share.pk).revoked_at is None


def test_the_spaces_file_manager_stays_closed_to_a_recipient_even_at_the_shared_path(
        as_bob, alice, bob, tree, team):  # noqa: F811
    services.internal_share_create(actor=alice, node_id=tree["/Project"], user=bob, role="editor")
    for url in (f"/spaces/{team.pk}/?path=/Project", f"/spaces/{team.pk}/", f"/spaces/{team.pk}/trash/",
                f"/spaces/{team.pk}/folder-paths", f"/spaces/{team.pk}/settings/"):
        assert as_bob.get(url).status_code == 404, url
