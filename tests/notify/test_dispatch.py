"""Each kind of notification: who is told, once, and never about what they can no longer see."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.audit.actions import Action
from portal.audit.services import record
from portal.backups.models import Device
from portal.locks.services import lock_acquire, lock_break
from portal.notify import services
from portal.notify.dispatch import NODE_SHARED
from portal.notify.models import EmailMode, Kind, Notification
from portal.notify.tasks import event_dispatch, stale_backups
from portal.people.services import group_create, group_member_add
from portal.shares.services import share_link_create
from portal.spaces.models import Space
from portal.spaces.services import member_add, member_remove, space_create, space_group_add
from tests.notify.conftest import put

pytestmark = pytest.mark.django_db


def kinds(user) -> list[str]:
    return list(Notification.objects.filter(user=user).order_by("id").values_list("kind", flat=True))


def test_record_adds_no_query_and_queues_the_dispatch_only_on_commit(alice, team, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with CaptureQueriesContext(connection) as queries:
            record(action=Action.SPACE_RENAMED, actor=alice, target=team, space=team)
    assert len(queries.captured_queries) == 1  # the INSERT, nothing more
    assert len(callbacks) == 1


def test_an_event_nothing_wants_queues_no_task(alice, team, committed, monkeypatch):
    from portal.notify import tasks

    queued = []
    monkeypatch.setattr(tasks.event_dispatch, "delay", queued.append)
    with committed():
        record(action=Action.SPACE_RENAMED, actor=alice, target=team, space=team)
        record(action=Action.MEMBER_ADDED, actor=alice, target=alice, space=team)
    assert len(queued) == 1


def test_a_new_member_is_told_they_were_added_and_the_actor_is_not(alice, bob, committed):
    space = space_create(actor=alice, name="Legal")
    with committed():
        member_add(actor=alice, space_id=space.pk, username="bob", role="viewer")
    note = Notification.objects.get(user=bob)
    assert note.kind == Kind.SPACE_ADDED and note.params["space"] == "Legal" and note.url.endswith(f"/{space.pk}/")
    assert kinds(alice) == []


def test_members_of_a_group_given_a_role_are_told(alice, make_user, committed, admin):
    carol, dave = make_user(username="carol"), make_user(username="dave")
    group = group_create(actor=admin, name="Auditors")
    group_member_add(actor=admin, group=group, user=carol)
    group_member_add(actor=admin, group=group, user=dave)
    space = space_create(actor=alice, name="Books")
    with committed():
        space_group_add(actor=alice, space_id=space.pk, group_id=group.pk, role="viewer")
    assert kinds(carol) == [Kind.SPACE_ADDED] and kinds(dave) == [Kind.SPACE_ADDED]


def test_dispatch_twice_tells_once(alice, bob, committed):
    space = space_create(actor=alice, name="Legal")
    with committed():
        member_add(actor=alice, space_id=space.pk, username="bob", role="viewer")
    event_id = Notification.objects.get(user=bob).event_id
    with committed():
        event_dispatch(event_id)
        event_dispatch(event_id)
    assert Notification.objects.filter(user=bob).count() == 1


def test_a_file_shared_with_a_user_or_a_group_tells_them_if_they_can_read_it(alice, bob, doc, make_user, admin,
                                                                             committed):
    carol = make_user(username="carol")  # no access to the space
    group = group_create(actor=admin, name="Readers")
    group_member_add(actor=admin, group=group, user=bob)
    group_member_add(actor=admin, group=group, user=carol)
    with committed():
        record(action=NODE_SHARED, actor=alice, target=doc, target_label="/Q3.xlsx", space=doc.space,
               details={"user_id": bob.pk})
        record(action=NODE_SHARED, actor=alice, target=doc, target_label="/Q3.xlsx", space=doc.space,
               details={"group_id": group.pk})
    assert kinds(bob) == [Kind.SHARED, Kind.SHARED]
    assert kinds(carol) == []  # cannot read it: never told
    assert Notification.objects.filter(user=bob).first().params["name"] == "Q3.xlsx"


def test_a_links_creator_is_told_of_its_first_view_and_first_download_only(alice, doc, committed):
    link, _ = share_link_create(actor=alice, node_id=doc.pk, permission="download")
    with committed():
        for action in (Action.SHARE_VIEWED, Action.SHARE_VIEWED, Action.SHARE_DOWNLOADED, Action.SHARE_DOWNLOADED):
            record(action=action, actor=None, actor_label="visitor", target=link, space=doc.space,
                   target_label=f"link {link.pk} on /Q3.xlsx")
    assert sorted(kinds(alice)) == sorted([Kind.LINK_OPENED, Kind.LINK_DOWNLOADED])


def test_a_broken_lock_tells_its_owner(alice, bob, team, doc, committed):
    lock = lock_acquire(actor=bob, node=doc)
    with committed():
        lock_break(actor=alice, lock_id=lock.pk)  # alice owns the space
    assert kinds(bob) == [Kind.LOCK_BROKEN]
    assert kinds(alice) == []


def test_followers_hear_of_changes_except_their_own_and_not_once_removed(alice, bob, team, doc, make_user,
                                                                         committed):
    carol = make_user(username="carol")
    member_add(actor=alice, space_id=team.pk, username="carol", role="viewer")
    services.follow_set(actor=bob, node_id=doc.pk, following=True)
    services.follow_set(actor=carol, node_id=doc.pk, following=True)
    services.follow_set(actor=alice, node_id=doc.pk, following=True)
    member_remove(actor=alice, space_id=team.pk, user_id=carol.pk)
    with committed():
        put(alice, team, "/Q3.xlsx", b"new numbers")
    assert kinds(bob) == [Kind.FOLLOWED_CHANGED]
    assert kinds(alice) == [] and kinds(carol) == []
    assert Notification.objects.get(user=bob).params["action"] == Action.FILE_UPLOADED


def test_owners_hear_once_when_a_space_passes_90_percent(alice, bob, team, committed):
    Space.objects.filter(pk=team.pk).update(quota_bytes=100)
    with committed():
        put(bob, team, "/a.bin", b"x" * 50)
    assert kinds(alice) == []
    with committed():
        put(bob, team, "/b.bin", b"x" * 42)
        put(bob, team, "/c.bin", b"x" * 3)
    assert kinds(alice) == [Kind.QUOTA_NEARLY_FULL] and kinds(bob) == []
    assert Notification.objects.get(user=alice).params["percent"] == 95


def test_a_device_without_backups_for_n_days_tells_its_owner_once_per_stale_period(alice, settings):
    settings.BACKUP_STALE_DAYS = 7
    now = timezone.now()
    device = Device.objects.create(user=alice, name="laptop", selector="s" * 32, verifier_hash="v" * 64,
                                   last_backup_at=now - timedelta(days=8))
    Device.objects.create(user=alice, name="fresh", selector="t" * 32, verifier_hash="v" * 64,
                          last_backup_at=now - timedelta(days=1))
    assert stale_backups(now=now) == 1
    assert stale_backups(now=now + timedelta(hours=1)) == 0
    Device.objects.filter(pk=device.pk).update(last_backup_at=now)
    assert stale_backups(now=now + timedelta(days=8)) == 2  # laptop's new stale period; fresh's first
    notes = Notification.objects.filter(user=alice, kind=Kind.BACKUP_STALE).order_by("id")
    assert sorted(n.params["device"] for n in notes) == ["fresh", "laptop", "laptop"]


def test_immediate_kinds_are_mailed_at_once_and_others_wait_for_the_digest(alice, bob, doc, committed):
    mail.outbox.clear()
    link, _ = share_link_create(actor=alice, node_id=doc.pk, permission="download")
    with committed():
        record(action=NODE_SHARED, actor=alice, target=doc, target_label="/Q3.xlsx", space=doc.space,
               details={"user_id": bob.pk})
        record(action=Action.SHARE_VIEWED, actor=None, actor_label="visitor", target=link, space=doc.space)
    assert [m.to for m in mail.outbox] == [[bob.email]]
    assert "alice shared Q3.xlsx with you" in mail.outbox[0].subject
    assert Notification.objects.get(user=alice).email_mode == EmailMode.DIGEST


def test_the_daily_digest_goes_at_the_users_local_hour_once(alice, doc, committed, settings):
    from portal.notify.tasks import send_digests

    settings.DIGEST_HOUR = 8
    alice.time_zone = "Asia/Shanghai"
    alice.save(update_fields=["time_zone"])
    link, _ = share_link_create(actor=alice, node_id=doc.pk, permission="download")
    with committed():
        record(action=Action.SHARE_VIEWED, actor=None, actor_label="visitor", target=link, space=doc.space)
    mail.outbox.clear()
    day = timezone.now().replace(hour=0, minute=30, second=0, microsecond=0)  # 08:30 in Shanghai
    assert send_digests(now=day - timedelta(hours=4)) == 0  # 04:30 there: not yet
    assert send_digests(now=day) == 1
    assert send_digests(now=day + timedelta(hours=1)) == 0
    assert len(mail.outbox) == 1 and "was opened for the first time" in mail.outbox[0].body


def test_email_preferences_choose_off(alice, bob, doc, committed):
    services.email_preferences_set(actor=bob, modes={Kind.SHARED: EmailMode.OFF})
    mail.outbox.clear()
    with committed():
        record(action=NODE_SHARED, actor=alice, target=doc, space=doc.space, details={"user_id": bob.pk})
    assert mail.outbox == [] and kinds(bob) == [Kind.SHARED]


def test_zh_hans_sentences(alice, bob, doc, committed):
    from django.utils import translation

    from portal.notify.texts import sentence

    with committed():
        record(action=NODE_SHARED, actor=alice, target=doc, space=doc.space, details={"user_id": bob.pk})
    with translation.override("zh-hans"):
        text = sentence(Notification.objects.get(user=bob))
    assert "Q3.xlsx" in text
