"""What the folder, panel, trash and settings pages show is computed from
explicit values (the folder located once, the caller's role found with it,
one lock lookup per listing): each role sees its own buttons, locks and
paths are right at any depth, and a space's own link policy fills its form."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.files.models import Node
from portal.files.services.direct import file_put
from portal.files.services.tree import node_trash
from portal.locks.models import Lock, LockDepth, LockKind
from portal.shares.services import space_share_policy_update
from portal.spaces.services import member_add, space_create
from tests.web.live import page_client

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}



def _put(user, space, path: str) -> Node:
    return file_put(actor=user, space_id=space.pk, path=path, fileobj=io.BytesIO(b"x"), size=1).node


def _lock(node: Node, owner, *, depth: str = LockDepth.ZERO) -> Lock:
    now = timezone.now()
    kind = LockKind.EDITOR if depth == LockDepth.INFINITY else LockKind.MANUAL
    return Lock.objects.create(node=node, owner=owner, kind=kind, depth=depth, created_at=now, refreshed_at=now,
                               expires_at=now + timedelta(hours=1), timeout_seconds=3600, note="editing")


@pytest.fixture
def space(alice, bob, make_user):
    space = space_create(actor=alice, name="Plans")
    member_add(actor=alice, space_id=space.pk, username="bob", role="viewer")
    make_user(username="erin")
    member_add(actor=alice, space_id=space.pk, username="erin", role="editor")
    return space


def test_each_role_sees_the_buttons_its_capabilities_allow(alice, bob, space):
    doc = _put(alice, space, "/a/doc.txt")
    owner = page_client(alice).get(f"/spaces/{space.pk}/?path=/a").content.decode()
    viewer = page_client(bob).get(f"/spaces/{space.pk}/?path=/a").content.decode()
    assert 'id="uploader"' in owner and 'id="new-folder-name"' in owner and 'data-bulk="move"' in owner
    assert 'id="uploader"' not in viewer and 'id="new-folder-name"' not in viewer and 'data-bulk="move"' not in viewer
    assert "doc.txt" in viewer
    owner_panel = page_client(alice).get(f"/spaces/{space.pk}/items/{doc.pk}/", **HTMX).content.decode()
    viewer_panel = page_client(bob).get(f"/spaces/{space.pk}/items/{doc.pk}/", **HTMX).content.decode()
    assert 'id="lock-hours"' in owner_panel and "Share…" in owner_panel
    assert 'id="lock-hours"' not in viewer_panel and "Share…" not in viewer_panel


def test_the_listing_shows_own_and_inherited_locks_and_links_folders_by_their_stored_path(alice, space,
                                                                                         django_user_model):
    erin = django_user_model.objects.get(username="erin")
    locked, free = _put(alice, space, "/Deep/One/Two/locked.txt"), _put(alice, space, "/Deep/One/Two/free.txt")
    _put(alice, space, "/Deep/One/Two/Three/inner.txt")
    _lock(locked, erin)
    page = page_client(alice).get(f"/spaces/{space.pk}/?path=/deep/one/two").content.decode()
    assert page.count('class="fm-row locked"') == 1 and "Locked by erin" in page
    assert "?path=/Deep/One/Two/Three" in page.replace("%2F", "/")  # the stored names, not the typed ones
    _lock(Node.objects.get(space=space, name="One"), erin, depth=LockDepth.INFINITY)
    page = page_client(alice).get(f"/spaces/{space.pk}/?path=/Deep/One/Two").content.decode()
    assert page.count('class="fm-row locked"') == 3  # both files and the folder Three, through /Deep/One
    assert free.name in page


def test_the_panel_shows_the_path_and_the_lock_with_its_token_only_to_its_owner(alice, space, django_user_model):
    erin = django_user_model.objects.get(username="erin")
    doc = _put(alice, space, "/x/y/doc.txt")
    _lock(doc, erin)
    theirs = page_client(erin).get(f"/spaces/{space.pk}/items/{doc.pk}/", **HTMX).content.decode()
    others = page_client(alice).get(f"/spaces/{space.pk}/items/{doc.pk}/", **HTMX).content.decode()
    assert "/x/y/doc.txt" in theirs and "Unlock" in theirs and "Break lock" not in theirs
    assert "Unlock" not in others and "Break lock" in others  # alice owns the space: she may break it


def test_a_rename_from_the_panel_shows_the_new_path(alice, space):
    doc = _put(alice, space, "/x/y/doc.txt")
    answer = page_client(alice).post(f"/spaces/{space.pk}/items/{doc.pk}/rename", {"name": "new.txt", "path": "/x/y", "drawer": "1"}, **HTMX)
    assert answer.status_code == 200
    assert "/x/y/new.txt" in answer.content.decode()  # the drawer, open on the item, stays open


def test_the_trash_shows_where_each_item_was(alice, space):
    kept = _put(alice, space, "/keep/inside/a.txt")
    gone = _put(alice, space, "/gone/b.txt")
    node_trash(actor=alice, node_id=kept.pk)
    node_trash(actor=alice, node_id=gone.pk)
    node_trash(actor=alice, node_id=gone.parent_id)
    page = page_client(alice).get(f"/spaces/{space.pk}/trash/").content.decode()
    assert "<td>/keep/inside/a.txt</td>" in page
    assert "<td>/b.txt</td>" in page and "<td>/gone</td>" in page  # its folder went to the trash too


def test_the_settings_page_fills_the_form_with_the_spaces_own_link_policy(alice, bob, space):
    space_share_policy_update(actor=alice, space_id=space.pk, changes={"default_days": 3, "max_days": 9,
                                                                       "require_password": True})
    owner = page_client(alice).get(f"/spaces/{space.pk}/settings/").content.decode()
    viewer = page_client(bob).get(f"/spaces/{space.pk}/settings/").content.decode()
    assert 'name="default_days" type="number" min="1" value="3"' in owner
    assert 'name="max_days" type="number" min="1" value="9"' in owner
    assert 'value="yes" selected' in owner and "Every link needs a password." in viewer
    assert 'name="default_days"' not in viewer and 'id="space-name"' not in viewer
