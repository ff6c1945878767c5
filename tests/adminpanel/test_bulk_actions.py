"""Bulk admin actions: each through its service, audited, superusers only."""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.test import Client

from portal.accounts.models import PersonalAccessToken
from portal.accounts.services import token_issue, user_disable
from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.backups.models import Device
from portal.locks.models import Lock
from portal.shares.models import ShareLink
from portal.spaces.models import Space
from tests.adminpanel.conftest import action_post
from tests.helpers import last_event

import pytest


def test_superusers_revoke_selected_links(admin_client_, link, root_admin):
    response = action_post(admin_client_, "/admin/shares/sharelink/", "revoke_links", [link.pk])
    assert response.status_code == 302
    assert ShareLink.objects.get(pk=link.pk).revoked_at is not None
    assert last_event(Action.SHARE_REVOKED, actor=root_admin).target_id == str(link.pk)


def test_superusers_break_selected_locks(admin_client_, lock, root_admin):
    action_post(admin_client_, "/admin/locks/lock/", "break_locks", [lock.pk])
    assert not Lock.objects.filter(pk=lock.pk).exists()
    assert last_event(Action.LOCK_BROKEN, actor=root_admin)


def test_superusers_revoke_selected_devices(admin_client_, device, root_admin):
    action_post(admin_client_, "/admin/backups/device/", "revoke_devices", [device.pk])
    assert Device.objects.get(pk=device.pk).revoked_at is not None
    assert last_event(Action.DEVICE_REVOKED, actor=root_admin).target_id == str(device.pk)


def test_superusers_change_quotas_through_an_intermediate_form(admin_client_, team, root_admin):
    url = "/admin/spaces/space/"
    form = action_post(admin_client_, url, "change_quota", [team.pk])
    assert form.status_code == 200 and b"New quota" in form.content
    bad = action_post(admin_client_, url, "change_quota", [team.pk], quota="lots", apply="1")
    assert bad.status_code == 200 and Space.objects.get(pk=team.pk).quota_bytes == team.quota_bytes
    done = action_post(admin_client_, url, "change_quota", [team.pk], quota="2G", apply="1")
    assert done.status_code == 302
    assert Space.objects.get(pk=team.pk).quota_bytes == 2 * 1024**3
    event = last_event(Action.SPACE_QUOTA_CHANGED, actor=root_admin)
    assert event.details["to"] == 2 * 1024**3


def test_superusers_disable_selected_users(admin_client_, alice, root_admin):
    action_post(admin_client_, "/admin/accounts/user/", "disable_users", [alice.pk])
    alice.refresh_from_db()
    assert not alice.is_active
    assert last_event(Action.USER_DISABLED, actor=root_admin).target_id == str(alice.pk)


@pytest.mark.parametrize("url, action, fixture", [
    ("/admin/shares/sharelink/", "revoke_links", "link"),
    ("/admin/locks/lock/", "break_locks", "lock"),
    ("/admin/backups/device/", "revoke_devices", "device"),
    ("/admin/spaces/space/", "change_quota", "team"),
    ("/admin/accounts/user/", "disable_users", "alice"),
])
def test_staff_who_are_not_superusers_cannot_run_bulk_actions(staff_client, request, url, action, fixture):
    obj = request.getfixturevalue(fixture)
    before = AuditEvent.objects.count()
    listing = staff_client.get(url)
    assert listing.status_code == 200
    assert action not in listing.content.decode()
    action_post(staff_client, url, action, [obj.pk], quota="1G", apply="1")
    assert AuditEvent.objects.count() == before
    if fixture == "link":
        assert ShareLink.objects.get(pk=obj.pk).revoked_at is None
    elif fixture == "lock":
        assert Lock.objects.filter(pk=obj.pk).exists()
    elif fixture == "device":
        assert Device.objects.get(pk=obj.pk).revoked_at is None
    elif fixture == "team":
        assert Space.objects.get(pk=obj.pk).quota_bytes == obj.quota_bytes
    else:
        obj.refresh_from_db()
        assert obj.is_active


def test_user_disable_ends_sessions_tokens_links_and_devices(alice, bob, root_admin, link, device):
    token, _ = token_issue(actor=alice, owner=alice, name="laptop")
    app_password, _ = token_issue(actor=alice, owner=alice, name="app: Thunderbird")
    theirs, mine = Client(), Client()
    theirs.force_login(alice)
    mine.force_login(bob)
    assert Session.objects.count() == 2

    user_disable(actor=root_admin, user_id=alice.pk)

    alice.refresh_from_db()
    assert not alice.is_active
    assert Session.objects.count() == 1  # bob's stays
    assert not PersonalAccessToken.objects.filter(user=alice, revoked_at__isnull=True).exists()
    assert ShareLink.objects.get(pk=link.pk).revoked_at is not None
    assert Device.objects.get(pk=device.pk).revoked_at is not None
    event = last_event(Action.USER_DISABLED, actor=root_admin)
    assert event.details == {"sessions": 1, "tokens": 2, "links": 1, "devices": 1, "was_active": True}
    assert {e.target_id for e in AuditEvent.objects.filter(action=Action.TOKEN_REVOKED)} == \
        {str(token.pk), str(app_password.pk)}
    assert last_event(Action.SHARE_REVOKED, actor=root_admin)
    assert last_event(Action.DEVICE_REVOKED, actor=root_admin)
    assert theirs.get("/admin/").status_code == 302


def test_only_administrators_disable_users(alice, bob):
    from portal.core.errors import Forbidden

    with pytest.raises(Forbidden):
        user_disable(actor=bob, user_id=alice.pk)
    alice.refresh_from_db()
    assert alice.is_active


def test_disabling_twice_records_once(alice, root_admin):
    user_disable(actor=root_admin, user_id=alice.pk)
    user_disable(actor=root_admin, user_id=alice.pk)
    assert AuditEvent.objects.filter(action=Action.USER_DISABLED).count() == 1
