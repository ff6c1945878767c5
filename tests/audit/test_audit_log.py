import pytest
from django.db import transaction

from portal.audit.models import AppendOnlyError, AuditEvent
from portal.audit.services import record
from portal.core.errors import Conflict
from portal.spaces.services import space_create

pytestmark = pytest.mark.django_db


def test_events_cannot_be_changed_or_deleted_through_the_model(alice):
    event = record(action="test.event", actor=alice, target=alice)
    event.action = "test.rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


def test_event_ids_increase_in_the_order_events_are_written(alice):
    ids = [record(action="test.event", actor=alice).id for _ in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5


def test_an_event_keeps_who_and_what_as_text(alice):
    event = record(action="test.event", actor=alice, target=alice)
    assert (event.actor_label, event.target_type, event.target_id, event.target_label) == \
        ("alice", "user", str(alice.id), "alice")


def test_a_change_that_fails_leaves_no_event(alice):
    space_create(actor=alice, name="Once")
    before = AuditEvent.objects.count()
    with pytest.raises(Conflict):
        space_create(actor=alice, name="once")
    assert AuditEvent.objects.count() == before


def test_an_event_rolls_back_with_its_transaction(alice):
    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        space_create(actor=alice, name="Doomed")
        raise RuntimeError("crash after the change")
    assert AuditEvent.objects.count() == before


def test_the_request_address_and_agent_are_recorded(api, alice):
    api.as_user(alice).post("/api/v1/spaces/", {"name": "Ops"}, format="json",
                            REMOTE_ADDR="192.0.2.44", HTTP_USER_AGENT="coffer-test/1.0")
    event = AuditEvent.objects.filter(action="space.created", actor=alice).latest("id")
    assert (event.ip, event.user_agent) == ("192.0.2.44", "coffer-test/1.0")


class TestAdminPanel:
    @pytest.fixture
    def admin_client(self, client, make_user):
        client.force_login(make_user(username="root", is_superuser=True, is_staff=True))
        return client

    def test_an_administrator_lists_and_filters_events(self, admin_client, alice):
        space_create(actor=alice, name="Visible")
        response = admin_client.get("/admin/audit/auditevent/", {"action": "space.created"})
        assert response.status_code == 200
        assert b"Visible" in response.content

    def test_the_log_is_read_only_in_the_admin(self, admin_client, alice):
        event = record(action="test.event", actor=alice)
        assert admin_client.get("/admin/audit/auditevent/add/").status_code == 403
        assert admin_client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
        page = admin_client.get(f"/admin/audit/auditevent/{event.pk}/change/")
        assert page.status_code == 200 and b'name="_save"' not in page.content
        assert AuditEvent.objects.filter(pk=event.pk).exists()

    def test_a_regular_user_cannot_open_the_log(self, client, alice):
        client.force_login(alice)
        response = client.get("/admin/audit/auditevent/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.postgres
def test_download_events_commit_without_waiting_for_the_disk_unless_configured(alice, settings):
    from django.db import connection

    def synchronous_commit_after(action: str) -> str:
        with transaction.atomic():
            record(action=action, actor=alice)
            with connection.cursor() as cursor:
                cursor.execute("SHOW synchronous_commit")
                value = cursor.fetchone()[0]
            transaction.set_rollback(True)
        return value

    assert synchronous_commit_after("space.created") == "on"
    assert synchronous_commit_after("file.downloaded") == "off"
    settings.AUDIT_DURABLE_READS = True
    assert synchronous_commit_after("file.downloaded") == "on"
