"""/admin/dashboard/: storage, links, locks, stale devices, failed sign-ins."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.audit import context
from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.audit.services import record
from portal.backups.models import Device
from portal.shares.services import share_link_revoke
from portal.spaces.models import Space

URL = "/admin/dashboard/"


def _failed(username: str, ip: str):
    token = context.bind(context.RequestContext(ip=ip))
    try:
        record(action=Action.LOGIN_FAILED, actor_label=username, outcome=Outcome.FAILURE)
    finally:
        context.unbind(token)


def test_the_dashboard_adds_up_storage_links_locks_devices_and_failed_sign_ins(
        admin_client_, team, link, lock, device, alice, doc):
    Space.objects.filter(pk=team.pk).update(used_bytes=1234)
    from portal.shares.services import share_link_create
    revoked = share_link_create(actor=alice, node_id=doc.pk, permission="download")[0]
    share_link_revoke(actor=alice, link_id=revoked.pk)
    Device.objects.filter(pk=device.pk).update(last_backup_at=timezone.now() - timedelta(days=10))
    for _ in range(3):
        _failed("mallory", "203.0.113.9")
    _failed("alice", "10.0.0.1")

    response = admin_client_.get(URL)
    assert response.status_code == 200
    ctx = response.context
    assert {s["id"]: s["used_bytes"] for s in ctx["spaces"]}[team.pk] == 1234
    assert ctx["storage"]["used"] == sum(Space.objects.values_list("used_bytes", flat=True))
    assert ctx["active_links"] == 1
    assert ctx["held_locks_count"] == 1
    assert ctx["stale_devices_count"] == 1
    assert ctx["failed_total"] == 4
    assert list(ctx["failed"])[0]["ip"] == "203.0.113.9" and list(ctx["failed"])[0]["failures"] == 3
    assert admin_client_.get(URL, {"days": 30}).context["stale_devices_count"] == 0


def test_the_dashboard_queries_do_not_grow_with_rows(admin_client_, team, alice, make_user):
    with CaptureQueriesContext(connection) as few:
        admin_client_.get(URL)
    for i in range(10):
        make_user(username=f"filler{i}")  # each has a personal space
        _failed(f"x{i}", f"198.51.100.{i}")
    with CaptureQueriesContext(connection) as many:
        admin_client_.get(URL)
    assert len(many) == len(few)


def test_only_staff_see_the_dashboard(client, alice):
    client.force_login(alice)
    assert client.get(URL).status_code == 302
