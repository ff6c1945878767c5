"""Sharing a file or folder with a colleague or a group: the API (success,
outsider, bad input), what the recipient reaches (that subtree, nothing
else of the space) and how a share ends (revoked, expired, group left)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.files.selectors import locate_node, node_at
from portal.people.services import group_create, group_member_add, group_member_remove
from portal.shares import services
from portal.shares.models import InternalShare
from portal.spaces.services import space_create
from tests.files.conftest import member_of, signed_in, team, upload  # noqa: F401 - shared fixtures

pytestmark = pytest.mark.django_db
MISSING = {"code": "not_found", "message": "No such file or folder."}


@pytest.fixture
def tree(signed_in, alice, team, upload):  # noqa: F811
    """/Project (a.txt, sub/b.txt) and /Secret.txt beside it, in alice's space."""
    client = signed_in(alice)
    ids = {path: upload(client, team, path, data)["id"] for path, data in {
        "/Project/a.txt": b"alpha\n" * 50, "/Project/sub/b.txt": b"bravo\n" * 70,
        "/Secret.txt": b"not shared"}.items()}
    ids["/Project"] = node_at(team, ["Project"])[0].pk
    ids["/Project/sub"] = node_at(team, ["Project", "sub"])[0].pk
    ids["/"] = node_at(team, [])[0].pk
    return ids


def _share(alice, node_id, **whom):
    return services.internal_share_create(actor=alice, node_id=node_id, role=whom.pop("role", "viewer"), **whom)


def _missing(response):
    assert response.status_code == 404, response.content
    body = response.json()
    assert (body["code"], body["message"]) == (MISSING["code"], MISSING["message"])


# --- the API -----------------------------------------------------------------------------

def test_a_sharer_shares_a_folder_with_a_colleague_and_sees_it_listed(signed_in, alice, bob, tree):
    client = signed_in(alice)
    made = client.post(f"/api/v1/nodes/{tree['/Project']}/internal-shares", {"user": "bob", "role": "editor"},
                       format="json")
    assert made.status_code == 201, made.content
    assert made.json()["user"] == "bob" and made.json()["role"] == "editor"
    listed = client.get(f"/api/v1/nodes/{tree['/Project']}/internal-shares").json()
    assert [row["user"] for row in listed["results"]] == ["bob"]
    event = AuditEvent.objects.get(action="node.shared")
    assert event.details["user_id"] == bob.pk and event.details["role"] == "editor"
    assert event.target_id == str(tree["/Project"]) or event.target_label == "/Project"


def test_a_folder_is_shared_with_a_group_by_its_id(signed_in, alice, bob, tree):
    group = group_create(actor=None, name="Auditors")
    made = signed_in(alice).post(f"/api/v1/nodes/{tree['/Project']}/internal-shares",
                                 {"group": group.pk, "role": "viewer"}, format="json")
    assert made.status_code == 201, made.content
    event = AuditEvent.objects.get(action="node.shared")
    assert event.details["group_id"] == group.pk and event.details["group"] == "Auditors"


def test_outsiders_and_viewers_cannot_list_or_share(signed_in, bob, tree, member_of):
    outsider = signed_in(bob)
    _missing(outsider.get(f"/api/v1/nodes/{tree['/Project']}/internal-shares"))
    _missing(outsider.post(f"/api/v1/nodes/{tree['/Project']}/internal-shares", {"user": "bob", "role": "viewer"},
                           format="json"))
    viewer = signed_in(member_of("viewer"))
    refused = viewer.post(f"/api/v1/nodes/{tree['/Project']}/internal-shares", {"user": "bob", "role": "viewer"},
                          format="json")
    assert refused.status_code == 403


@pytest.mark.parametrize("body, code", [
    ({"user": "nobody-here", "role": "viewer"}, "unknown_user"),
    ({"user": "bob", "group": 1, "role": "viewer"}, "invalid_recipient"),
    ({"role": "viewer"}, "invalid_recipient"),
    ({"user": "bob", "role": "owner"}, None),
    ({"user": "bob", "role": "viewer", "expires_at": "2001-01-01T00:00:00Z"}, "invalid_expires_at"),
    ({"user": "alice", "role": "viewer"}, "invalid_recipient"),
    ({"user": "bob", "role": "viewer", "surprise": 1}, None),
])
def test_bad_input_is_refused(signed_in, alice, bob, tree, body, code):
    response = signed_in(alice).post(f"/api/v1/nodes/{tree['/Project']}/internal-shares", body, format="json")
    assert response.status_code == 400, response.content
    if code:
        assert response.json()["code"] == code


def test_the_space_root_and_a_second_share_to_the_same_person_are_refused(signed_in, alice, bob, tree):
    client = signed_in(alice)
    root = client.post(f"/api/v1/nodes/{tree['/']}/internal-shares", {"user": "bob", "role": "viewer"}, format="json")
    assert root.status_code == 400 and root.json()["code"] == "root_folder"
    _share(alice, tree["/Project"], user=bob)
    again = client.post(f"/api/v1/nodes/{tree['/Project']}/internal-shares", {"user": "bob", "role": "editor"},
                        format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_shared"


def test_change_and_revoke_through_the_api(signed_in, alice, bob, tree):
    share = _share(alice, tree["/Project"], user=bob)
    client = signed_in(alice)
    changed = client.patch(f"/api/v1/internal-shares/{share.pk}", {"role": "editor"}, format="json")
    assert changed.status_code == 200 and changed.json()["role"] == "editor"
    assert client.patch(f"/api/v1/internal-shares/{share.pk}", {"role": "boss"}, format="json").status_code == 400
    assert client.patch(f"/api/v1/internal-shares/{share.pk}", {}, format="json").status_code == 400
    # the recipient cannot change or end someone else's share; nor can a stranger find it
    assert signed_in(bob).patch(f"/api/v1/internal-shares/{share.pk}", {"role": "editor"},
                                format="json").status_code == 404
    assert signed_in(bob).delete(f"/api/v1/internal-shares/{share.pk}").status_code == 404
    assert client.delete(f"/api/v1/internal-shares/{share.pk}").status_code == 204
    assert client.delete(f"/api/v1/internal-shares/{share.pk}").status_code == 404
    assert list(AuditEvent.objects.filter(action__startswith="node.").values_list("action", flat=True)
                .order_by("id")) == ["node.shared", "node.share_changed", "node.unshared"]


def test_an_editor_share_cannot_exceed_the_sharers_rights(alice, bob, tree, team, member_of):
    from portal.core.errors import Forbidden

    viewer = member_of("viewer")
    with pytest.raises(Forbidden):  # viewers may not share at all
        services.internal_share_create(actor=viewer, node_id=tree["/Project"], user=bob, role="viewer")
    share = _share(alice, tree["/Project"], user=bob)
    with pytest.raises(Forbidden):  # the recipient cannot pass it on
        services.internal_share_create(actor=bob, node_id=tree["/Project"], user=viewer, role="viewer")
    assert share.role == "viewer"


# --- what the recipient reaches -----------------------------------------------------------

def test_the_recipient_reads_the_shared_folder_and_what_is_below_it(signed_in, alice, bob, tree, team):
    _share(alice, tree["/Project"], user=bob)
    client = signed_in(bob)
    response = client.get(f"/api/v1/files/{tree['/Project/sub/b.txt']}/content")
    assert b"".join(response.streaming_content) == b"bravo\n" * 70
    listing = client.get(f"/api/v1/spaces/{team.pk}/tree/Project/sub")
    assert listing.status_code == 200 and [r["name"] for r in listing.json()["results"]] == ["b.txt"]
    located = locate_node(bob, tree["/Project/a.txt"])
    assert located.scoped and located.scope_names == ("Project", "a.txt") and located.role == "viewer"


def test_the_rest_of_the_space_answers_404_word_for_word(signed_in, alice, bob, tree, team):
    _share(alice, tree["/Project"], user=bob)
    client = signed_in(bob)
    _missing(client.get(f"/api/v1/files/{tree['/Secret.txt']}"))
    _missing(client.get(f"/api/v1/files/{tree['/Secret.txt']}/content"))
    _missing(client.get(f"/api/v1/files/{tree['/']}"))  # the parent of the shared folder
    for url in (f"/api/v1/spaces/{team.pk}/tree/", f"/api/v1/spaces/{team.pk}/tree/Secret.txt",
                f"/api/v1/spaces/{team.pk}/trash", f"/api/v1/spaces/{team.pk}/members/",
                f"/api/v1/spaces/{team.pk}/zip", f"/api/v1/shares?space={team.pk}",
                f"/api/v1/spaces/{team.pk}/"):
        assert client.get(url).status_code == 404, url


def test_a_viewer_share_does_not_write(signed_in, alice, bob, tree):
    _share(alice, tree["/Project"], user=bob)
    client = signed_in(bob)
    assert client.patch(f"/api/v1/files/{tree['/Project/a.txt']}", {"name": "x.txt"},
                        format="json").status_code == 403
    assert client.delete(f"/api/v1/files/{tree['/Project/a.txt']}").status_code == 403


def test_an_editor_changes_what_the_folder_holds_but_not_the_folder_itself(signed_in, alice, bob, tree, team):
    _share(alice, tree["/Project"], user=bob, role="editor")
    client = signed_in(bob)
    renamed = client.patch(f"/api/v1/files/{tree['/Project/a.txt']}", {"name": "renamed.txt"}, format="json")
    assert renamed.status_code == 200, renamed.content
    moved = client.post(f"/api/v1/files/{tree['/Project/a.txt']}/move", {"path": "/Project/sub/renamed.txt"},
                        format="json")
    assert moved.status_code == 200, moved.content
    for response in (
            client.patch(f"/api/v1/files/{tree['/Project']}", {"name": "Mine"}, format="json"),
            client.delete(f"/api/v1/files/{tree['/Project']}"),
            client.post(f"/api/v1/files/{tree['/Project']}/move", {"path": "/Elsewhere"}, format="json")):
        assert response.status_code in (403, 404), response.content
    assert node_at(team, ["Project"])[0].pk == tree["/Project"]


def test_an_editor_cannot_move_a_file_out_of_the_shared_folder(signed_in, alice, bob, tree, team):
    _share(alice, tree["/Project"], user=bob, role="editor")
    own = space_create(actor=bob, name="Bob's")
    client = signed_in(bob)
    to_parent = client.post(f"/api/v1/files/{tree['/Project/a.txt']}/move", {"path": "/a.txt"}, format="json")
    assert to_parent.status_code == 404
    to_own = client.post(f"/api/v1/files/{tree['/Project/a.txt']}/move", {"path": "/a.txt", "space": own.pk},
                         format="json")
    assert to_own.status_code == 403 and to_own.json()["code"] == "leaves_share"
    assert node_at(team, ["Project", "a.txt"])[0].pk == tree["/Project/a.txt"]


def test_copies_go_only_where_the_recipient_may_write(signed_in, alice, bob, tree, team):
    _share(alice, tree["/Project"], user=bob)
    own = space_create(actor=bob, name="Bob's")
    client = signed_in(bob)
    into_sharers = client.post(f"/api/v1/files/{tree['/Project/a.txt']}/copy", {"path": "/stolen.txt"},
                               format="json")
    assert into_sharers.status_code == 404
    into_share = client.post(f"/api/v1/files/{tree['/Project/a.txt']}/copy", {"path": "/Project/copy.txt"},
                             format="json")
    assert into_share.status_code in (403, 404)  # a viewer writes nothing there
    # a copy into their own space is what a download and an upload would do
    mine = client.post(f"/api/v1/files/{tree['/Project/a.txt']}/copy", {"path": "/a.txt", "space": own.pk},
                       format="json")
    assert mine.status_code == 201 or mine.status_code == 200, mine.content


def test_a_recipient_cannot_upload_next_to_the_shared_folder(signed_in, alice, bob, tree, team, upload):  # noqa: F811
    _share(alice, tree["/Project"], user=bob, role="editor")
    started = upload.start(signed_in(bob), team, "/Intruder.txt", b"x")
    assert started.status_code == 404


def test_search_recent_and_starred_show_nothing_else_of_the_space(client, alice, bob, tree):
    _share(alice, tree["/Project"], user=bob)
    client.force_login(bob)
    for url in ("/search/?q=Secret", "/recent/", "/starred/"):
        page = client.get(url)
        assert page.status_code == 200 and b"Secret.txt" not in page.content, url


# --- how a share ends ---------------------------------------------------------------------

def test_revocation_takes_effect_at_once(signed_in, alice, bob, tree):
    share = _share(alice, tree["/Project"], user=bob)
    client = signed_in(bob)
    assert client.get(f"/api/v1/files/{tree['/Project/a.txt']}/content").status_code == 200
    services.internal_share_revoke(actor=alice, share_id=share.pk)
    _missing(client.get(f"/api/v1/files/{tree['/Project/a.txt']}/content"))


def test_expiry_takes_effect_at_once_even_for_a_range(signed_in, alice, bob, tree):
    share = _share(alice, tree["/Project"], user=bob, expires_at=timezone.now() + timedelta(hours=1))
    client = signed_in(bob)
    url = f"/api/v1/files/{tree['/Project/a.txt']}/content"
    assert client.get(url, HTTP_RANGE="bytes=0-5").status_code == 206
    InternalShare.objects.filter(pk=share.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    _missing(client.get(url, HTTP_RANGE="bytes=6-11"))


def test_leaving_the_group_takes_the_share_away(signed_in, alice, bob, tree):
    group = group_create(actor=None, name="Readers")
    group_member_add(actor=None, group=group, user=bob)
    _share(alice, tree["/Project"], group=group)
    client = signed_in(bob)
    assert client.get(f"/api/v1/files/{tree['/Project/a.txt']}").status_code == 200
    group_member_remove(actor=None, group=group, user=bob)
    _missing(client.get(f"/api/v1/files/{tree['/Project/a.txt']}"))


def test_a_sharer_who_leaves_the_space_takes_their_shares_along(signed_in, alice, bob, tree, team, member_of):
    from portal.spaces.models import Membership

    editor = member_of("editor")
    services.internal_share_create(actor=editor, node_id=tree["/Project"], user=bob, role="viewer")
    client = signed_in(bob)
    assert client.get(f"/api/v1/files/{tree['/Project/a.txt']}").status_code == 200
    Membership.objects.filter(space=team, user=editor).delete()
    _missing(client.get(f"/api/v1/files/{tree['/Project/a.txt']}"))


# --- uploads by an editor of a shared folder ----------------------------------------------

def test_an_editor_uploads_into_the_shared_folder_and_a_new_version_over_a_file(signed_in, alice, bob, tree,
                                                                                 team, upload):  # noqa: F811
    _share(alice, tree["/Project"], user=bob, role="editor")
    client = signed_in(bob)
    made = upload(client, team, "/Project/sub/new.txt", b"from bob")
    assert node_at(team, ["Project", "sub", "new.txt"])[0].pk == made["id"]
    again = upload(client, team, "/Project/a.txt", b"bob's version")
    assert again["id"] == tree["/Project/a.txt"]
    assert upload.start(client, team, "/Project/missing/x.txt", b"x").status_code == 404
    assert upload.start(client, team, "/Secret.txt", b"x").status_code == 404


def test_a_viewer_uploads_nothing(signed_in, alice, bob, tree, team, upload):  # noqa: F811
    _share(alice, tree["/Project"], user=bob, role="viewer")
    assert upload.start(signed_in(bob), team, "/Project/x.txt", b"x").status_code in (403, 404)


def test_an_upload_started_before_the_revocation_cannot_finish(signed_in, alice, bob, tree, team, upload):  # noqa: F811
    share = _share(alice, tree["/Project"], user=bob, role="editor")
    client = signed_in(bob)
    data = b"late bytes"
    started = upload.start(client, team, "/Project/late.txt", data)
    assert started.status_code == 201, started.content
    services.internal_share_revoke(actor=alice, share_id=share.pk)
    done = upload.complete(client, started.json()["id"])
    assert done.status_code == 404
    assert client.get(f"/api/v1/uploads/{started.json()['id']}").status_code in (200, 404)
    assert len(node_at(team, ["Project"])[0].children.filter(name="late.txt")) == 0


def test_the_api_lists_what_was_shared_with_me_directly_and_through_a_group(signed_in, alice, bob, tree, make_user):
    group = group_create(actor=None, name="Readers")
    group_member_add(actor=None, group=group, user=bob)
    _share(alice, tree["/Project"], user=bob)
    _share(alice, tree["/Project/a.txt"], group=group, role="editor")
    rows = signed_in(bob).get("/api/v1/internal-shares").json()["results"]
    assert [(row["name"], row["role"], row["is_folder"]) for row in rows] == [
        ("a.txt", "editor", False), ("Project", "viewer", True)]
    assert signed_in(make_user(username="carol")).get("/api/v1/internal-shares").json()["results"] == []
    assert signed_in(bob).get("/api/v1/internal-shares?page=x").status_code in (200, 400, 404)
