"""The lock endpoint: take, refresh, release and break a file's lock, and
the lock shown in file metadata and folder listings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from portal.audit.actions import Action
from portal.files.models import Node, NodeKind
from portal.locks.models import Lock, LockDepth, LockKind
from portal.locks.services import lock_acquire
from tests.helpers import assert_error, events, last_event

pytestmark = pytest.mark.django_db


def lock_url(node) -> str:
    return f"/api/v1/files/{node.id}/lock"


def take(api_client, node, **body):
    return api_client.post(lock_url(node), body, format="json")


def test_an_editor_locks_a_file_and_gets_its_token(signed_in, editor, doc, team, settings):
    before = timezone.now()
    response = take(signed_in(editor), doc, note="Editing the figures")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["token"].startswith("opaquelocktoken:")
    assert body["owner"] == "erin" and body["kind"] == "manual" and body["note"] == "Editing the figures"
    expires = parse_datetime(body["expires_at"])
    assert before + timedelta(seconds=settings.LOCK_MANUAL_MAX_SECONDS) <= expires
    lock = Lock.objects.get(node=doc)
    assert lock.token == body["token"] and lock.owner == editor
    event = last_event(Action.LOCK_ACQUIRED, target_id=str(doc.id))
    assert event.actor == editor and event.space_id == team.id


def test_a_long_timeout_is_capped_at_the_policy_maximum(signed_in, editor, doc, settings):
    settings.LOCK_MANUAL_MAX_SECONDS = 3600
    response = take(signed_in(editor), doc, timeout=10**9)
    assert response.status_code == 201, response.content
    lock = Lock.objects.get(node=doc)
    assert lock.timeout_seconds == 3600
    assert lock.expires_at <= timezone.now() + timedelta(seconds=3600)


@pytest.mark.parametrize("body", [{"timeout": 0}, {"timeout": -5}, {"timeout": "soon"}, {"color": "red"},
                                  {"note": 5}])
def test_bad_lock_input_is_refused(signed_in, editor, doc, body):
    assert_error(take(signed_in(editor), doc, **body), 400, "invalid_input")
    assert not Lock.objects.exists()


def test_folders_cannot_be_locked_over_the_api(signed_in, editor, root):
    folder = Node.objects.create(space=root.space, parent=root, kind=NodeKind.FOLDER, name="Plans", name_key="plans")
    assert_error(take(signed_in(editor), folder), 400, "not_a_file")


def test_outsiders_get_not_found_on_every_method(signed_in, bob, doc, alice):
    lock = lock_acquire(actor=alice, node=Node.objects.select_related("space").get(pk=doc.pk))
    client = signed_in(bob)
    assert_error(take(client, doc), 404, "not_found")
    assert_error(client.patch(lock_url(doc), {"token": lock.token}, format="json"), 404, "not_found")
    assert_error(client.delete(lock_url(doc)), 404, "not_found")
    assert_error(client.delete(lock_url(doc) + "?force=1"), 404, "not_found")
    assert Lock.objects.filter(pk=lock.pk).exists()


def test_viewers_cannot_lock(signed_in, member_of, doc):
    assert_error(take(signed_in(member_of("viewer")), doc), 403, "forbidden")


def test_a_file_locked_by_someone_else_answers_409_naming_the_holder(signed_in, editor, alice, doc):
    assert take(signed_in(alice), doc).status_code == 201
    body = assert_error(take(signed_in(editor), doc), 409, "locked")
    assert body["detail"]["holder"]["owner"] == "alice"
    assert "token" not in body["detail"]["holder"]
    assert "alice" in body["message"]


def test_the_owner_locking_again_is_told_to_refresh(signed_in, editor, doc):
    client = signed_in(editor)
    assert take(client, doc).status_code == 201
    body = assert_error(take(client, doc), 409, "locked")
    assert "refresh" in body["message"]


def test_the_owner_refreshes_with_the_token(signed_in, editor, doc):
    client = signed_in(editor)
    token = take(client, doc, timeout=60).json()["token"]
    response = client.patch(lock_url(doc), {"token": token, "timeout": 600}, format="json")
    assert response.status_code == 200, response.content
    lock = Lock.objects.get(node=doc)
    assert lock.timeout_seconds == 600 and lock.expires_at > timezone.now() + timedelta(seconds=500)
    assert last_event(Action.LOCK_REFRESHED).details["timeout"] == 600


def test_refresh_with_an_unknown_expired_or_other_files_token_is_412(signed_in, editor, doc, make_file, root,
                                                                    lock_row):
    client = signed_in(editor)
    other = make_file(root, "other.txt")
    other_token = lock_row(other, editor).token
    expired = lock_row(make_file(root, "old.txt"), editor, expires_in=timedelta(seconds=-1))
    take(client, doc)
    for token in ("opaquelocktoken:nope", other_token):
        assert_error(client.patch(lock_url(doc), {"token": token}, format="json"), 412, "lock_token_invalid")
    assert_error(client.patch(f"/api/v1/files/{expired.node_id}/lock", {"token": expired.token}, format="json"),
                 412, "lock_token_invalid")
    assert_error(client.patch(lock_url(doc), {}, format="json"), 400, "invalid_input")


def test_refreshing_someone_elses_lock_is_forbidden(signed_in, editor, alice, doc):
    token = take(signed_in(alice), doc).json()["token"]
    assert_error(signed_in(editor).patch(lock_url(doc), {"token": token}, format="json"), 403, "not_lock_owner")


def test_the_owner_releases_without_keeping_the_token(signed_in, editor, doc):
    client = signed_in(editor)
    take(client, doc)
    assert client.delete(lock_url(doc)).status_code == 204
    assert not Lock.objects.exists()
    assert last_event(Action.LOCK_RELEASED).actor == editor


def test_release_with_a_wrong_token_is_409(signed_in, editor, doc):
    client = signed_in(editor)
    take(client, doc)
    assert_error(client.delete(lock_url(doc), {"token": "opaquelocktoken:nope"}, format="json"), 409,
                 "lock_token_invalid")
    assert Lock.objects.exists()


def test_releasing_an_unlocked_file_is_409(signed_in, editor, doc):
    assert_error(signed_in(editor).delete(lock_url(doc)), 409, "not_locked")


def test_an_editor_cannot_release_or_break_anothers_lock(signed_in, editor, alice, doc):
    take(signed_in(alice), doc)
    client = signed_in(editor)
    assert_error(client.delete(lock_url(doc)), 403, "not_lock_owner")
    assert_error(client.delete(lock_url(doc) + "?force=1"), 403, "forbidden")
    assert Lock.objects.filter(node=doc).exists()
    assert not events(Action.LOCK_BROKEN)


def test_a_manager_breaks_a_lock_and_the_owner_is_mailed(signed_in, editor, manager, doc,
                                                         django_capture_on_commit_callbacks):
    take(signed_in(editor), doc)
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(manager).delete(lock_url(doc) + "?force=1")
    assert response.status_code == 204, response.content
    assert not Lock.objects.exists()
    event = last_event(Action.LOCK_BROKEN, target_id=str(doc.id))
    assert event.actor == manager and event.details["owner"] == "erin"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [editor.email] and "report.docx" in mail.outbox[0].subject


def test_an_administrator_outside_the_space_breaks_a_lock(signed_in, make_user, editor, doc,
                                                          django_capture_on_commit_callbacks):
    admin = make_user(username="root", is_superuser=True, is_staff=True)
    take(signed_in(editor), doc)
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_in(admin).delete(lock_url(doc) + "?force=1").status_code == 204
    assert last_event(Action.LOCK_BROKEN).actor == admin
    assert len(mail.outbox) == 1


def test_metadata_shows_the_lock_and_the_token_only_to_its_owner(signed_in, editor, alice, doc):
    take(signed_in(editor), doc, client="LibreOffice on LAPTOP-42")
    mine = signed_in(editor).get(f"/api/v1/files/{doc.id}").json()["lock"]
    theirs = signed_in(alice).get(f"/api/v1/files/{doc.id}").json()["lock"]
    assert mine["owner"] == theirs["owner"] == "erin"
    assert theirs["client"] == "LibreOffice on LAPTOP-42" and theirs["kind"] == "manual"
    assert {"since", "expires_at"} <= set(theirs)
    assert "token" in mine and "token" not in theirs
    by_path = signed_in(alice).get(f"/api/v1/spaces/{doc.space_id}/tree/report.docx").json()
    assert by_path["lock"]["owner"] == "erin"


def test_an_expired_lock_is_not_shown(signed_in, alice, doc, lock_row):
    lock_row(doc, alice, expires_in=timedelta(seconds=-1))
    assert signed_in(alice).get(f"/api/v1/files/{doc.id}").json()["lock"] is None


def listing(client, team):
    response = client.get(f"/api/v1/spaces/{team.id}/tree/", {"page_size": 1000})
    assert response.status_code == 200, response.content
    return response.json()


def test_a_listing_shows_locks_in_a_bounded_number_of_queries(signed_in, alice, editor, team, root, make_file,
                                                              lock_row, django_assert_max_num_queries):
    client = signed_in(alice)
    few = make_file.many(root, 3, names=[f"a{i}.txt" for i in range(3)])
    lock_row(few[0], editor)
    with CaptureQueriesContext(connection) as small:
        listing(client, team)
    many = make_file.many(root, 40, names=[f"b{i:02}.txt" for i in range(40)])
    for node in many[::2]:
        lock_row(node, editor, client="Word")
    with django_assert_max_num_queries(len(small)):
        body = listing(client, team)
    locks = {entry["name"]: entry["lock"] for entry in body["results"]}
    assert locks["a0.txt"]["owner"] == "erin" and locks["a1.txt"] is None
    assert locks["b00.txt"]["client"] == "Word" and locks["b01.txt"] is None
    assert sum(1 for lock in locks.values() if lock) == 21


def test_a_folders_depth_infinity_lock_shows_on_what_it_holds(signed_in, alice, editor, team, root, make_file):
    folder = Node.objects.create(space=team, parent=root, kind=NodeKind.FOLDER, name="Plans", name_key="plans")
    make_file(folder, "inside.txt")
    folder.space = team
    lock_acquire(actor=editor, node=folder, kind=LockKind.EDITOR, depth=LockDepth.INFINITY)
    body = signed_in(alice).get(f"/api/v1/spaces/{team.id}/tree/Plans").json()
    assert body["folder"]["lock"]["depth"] == "infinity"
    assert body["results"][0]["lock"]["node"] == folder.id
