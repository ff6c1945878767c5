"""The bell, the notifications page, follow toggles, e-mail settings and
/manage/webhooks/: success, outsiders (404) and bad input for each."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.notify import services
from portal.notify.dispatch import notify
from portal.notify.models import EmailMode, EmailPreference, Follow, Kind, Notification, Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def tell(user, n: int = 1):
    for i in range(n):
        notify(user, kind=Kind.SPACE_ADDED, key=f"test:{i}", params={"space": f"S{i}"}, url="/spaces/")


def test_the_badge_counts_unread_notifications_with_one_query_of_its_own(alice):
    tell(alice, 3)
    client = client_of(alice)
    client.get("/notifications/badge")  # session and user loaded once
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/notifications/badge")
    assert response.status_code == 200 and 'data-count="3"' in response.content.decode()
    notify_queries = [q for q in queries.captured_queries if "notify_notification" in q["sql"]]
    assert len(notify_queries) == 1 and "COUNT" in notify_queries[0]["sql"].upper()


def test_the_badge_tells_nothing_to_the_signed_out_and_leaves_the_bell_as_it_is():
    response = Client().get("/notifications/badge")
    assert response.status_code == 204 and response.content == b""


def test_the_badge_refuses_other_methods(alice):
    assert client_of(alice).post("/notifications/badge").status_code == 405


def test_every_page_has_the_bell(alice):
    page = client_of(alice).get("/spaces/").content.decode()
    assert 'hx-get="/notifications/badge"' in page and "every 30s" in page


def test_the_list_shows_sentences_and_mark_all_read_clears_the_count(alice, bob):
    tell(alice, 2)
    tell(bob, 1)
    client = client_of(alice)
    page = client.get("/notifications/").content.decode()
    assert "added you to the space S0" in page and "S1" in page and "Mark all read" in page
    assert client.post("/notifications/read-all").status_code == 303
    assert Notification.objects.filter(user=alice, read_at__isnull=True).count() == 0
    assert Notification.objects.filter(user=bob, read_at__isnull=True).count() == 1  # only one's own


def test_mark_all_read_takes_post_only(alice):
    assert client_of(alice).get("/notifications/read-all").status_code == 405


def test_opening_a_notification_marks_it_read_and_goes_to_the_thing(alice, bob):
    tell(alice)
    note = Notification.objects.get(user=alice)
    response = client_of(alice).get(f"/notifications/{note.pk}/")
    assert response.status_code == 302 and response["Location"] == "/spaces/"
    note.refresh_from_db()
    assert note.read_at is not None
    assert client_of(bob).get(f"/notifications/{note.pk}/").status_code == 404  # someone else's
    assert client_of(alice).get("/notifications/999999/").status_code == 404


def test_follow_toggle(alice, bob, doc, make_user):
    client = client_of(bob)
    page = client.get(f"/notifications/follow/{doc.pk}").content.decode()
    assert 'value="1"' in page and "Follow" in page
    response = client.post(f"/notifications/follow/{doc.pk}", {"follow": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'aria-pressed="true"' in response.content.decode()
    assert Follow.objects.filter(user=bob, node=doc).exists()
    assert AuditEvent.objects.filter(action=Action.FILE_FOLLOWED, actor=bob).count() == 1
    client.post(f"/notifications/follow/{doc.pk}", {"follow": "0"})
    assert not Follow.objects.filter(user=bob, node=doc).exists()
    assert AuditEvent.objects.filter(action=Action.FILE_UNFOLLOWED, actor=bob).count() == 1


def test_outsiders_cannot_follow_or_see_the_toggle(doc, make_user):
    carol = client_of(make_user(username="carol"))
    assert carol.get(f"/notifications/follow/{doc.pk}").status_code == 404
    assert carol.post(f"/notifications/follow/{doc.pk}", {"follow": "1"}).status_code == 404
    assert not Follow.objects.exists()


def test_follow_refuses_bad_input(bob, doc):
    assert client_of(bob).post(f"/notifications/follow/{doc.pk}", {"follow": "maybe"}).status_code == 400
    assert client_of(bob).get("/notifications/follow/999999").status_code == 404


def test_email_settings_are_saved_and_audited(alice):
    client = client_of(alice)
    response = client.post("/notifications/email", {f"mode-{Kind.SHARED}": EmailMode.OFF,
                                                     f"mode-{Kind.FOLLOWED_CHANGED}": EmailMode.IMMEDIATE},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Saved." in response.content.decode()
    pref = EmailPreference.objects.get(user=alice)
    assert pref.mode(Kind.SHARED) == EmailMode.OFF and pref.mode(Kind.FOLLOWED_CHANGED) == EmailMode.IMMEDIATE
    assert pref.mode(Kind.LOCK_BROKEN) == EmailMode.IMMEDIATE  # untouched: the default
    assert AuditEvent.objects.filter(action=Action.NOTIFY_PREFERENCES_CHANGED, actor=alice).exists()


def test_email_settings_refuse_bad_input(alice):
    client = client_of(alice)
    assert client.post("/notifications/email", {f"mode-{Kind.SHARED}": "hourly"}).status_code == 400
    assert client.post("/notifications/email", {}).status_code == 400
    assert Client().post("/notifications/email", {f"mode-{Kind.SHARED}": "off"}).status_code == 302


def test_the_email_settings_form_renders_with_defaults(alice):
    from django.template import engines

    html = engines["django"].from_string('{% include "notify/_account_prefs.html" %}').render(
        {"request": type("R", (), {"user": alice})(), "csrf_token": "t"})
    assert f'id="mode-{Kind.SHARED}"' in html and "Daily digest" in html


# --- /manage/webhooks/ ------------------------------------------------------------------

def test_administrators_add_a_webhook_and_see_its_secret_once(admin, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    client = client_of(admin)
    assert client.get("/manage/webhooks/").status_code == 200
    response = client.post("/manage/webhooks/", {"url": "http://127.0.0.1:9/hook", "events": ["file.uploaded"]})
    page = response.content.decode()
    assert response.status_code == 200 and "whsec_" in page
    hook = Webhook.objects.get()
    assert hook.events == ["file.uploaded"] and "whsec_" not in client.get("/manage/webhooks/").content.decode()


def test_the_webhook_page_is_for_administrators_only(alice, admin, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    hook, _ = services.webhook_create(actor=admin, url="http://127.0.0.1:9/", events=["*"])
    client = client_of(alice)
    assert client.get("/manage/webhooks/").status_code == 404
    assert client.post("/manage/webhooks/", {"url": "http://127.0.0.1:9/", "events": ["*"]}).status_code == 404
    for action in ("pause", "delete", "ping"):
        assert client.post(f"/manage/webhooks/{hook.pk}/{action}").status_code == 404
    assert Webhook.objects.get().active and Webhook.objects.count() == 1
    assert Client().get("/manage/webhooks/").status_code == 302


def test_the_webhook_page_refuses_bad_input(admin, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    client = client_of(admin)
    response = client.post("/manage/webhooks/", {"url": "http://127.0.0.1/", "events": ["*"]})
    assert response.status_code == 400 and "private" in response.content.decode()
    assert client.post("/manage/webhooks/", {"url": "gopher://x", "events": ["*"]}).status_code == 400
    assert client.post("/manage/webhooks/", {"url": "https://example.com/", "events": ["nope"]}).status_code == 400
    assert client.post("/manage/webhooks/999/pause").status_code == 404
    assert client.post("/manage/webhooks/1/explode").status_code == 404
    assert not Webhook.objects.exists()


def test_administrators_pause_resume_ping_and_delete(admin, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    hook, _ = services.webhook_create(actor=admin, url="http://127.0.0.1:9/", events=["*"])
    client = client_of(admin)
    assert client.post(f"/manage/webhooks/{hook.pk}/pause").status_code == 303
    assert not Webhook.objects.get().active
    client.post(f"/manage/webhooks/{hook.pk}/resume")
    assert Webhook.objects.get().active
    with django_capture_on_commit_callbacks(execute=False):
        client.post(f"/manage/webhooks/{hook.pk}/ping")
    assert WebhookDelivery.objects.filter(action="ping").count() == 1
    assert "ping" in client.get("/manage/webhooks/").content.decode()
    client.post(f"/manage/webhooks/{hook.pk}/delete")
    assert not Webhook.objects.exists()
    actions = set(AuditEvent.objects.filter(actor=admin).values_list("action", flat=True))
    assert {Action.WEBHOOK_CREATED, Action.WEBHOOK_CHANGED, Action.WEBHOOK_PINGED, Action.WEBHOOK_DELETED} <= actions


def test_the_account_page_has_the_email_settings(alice):
    page = client_of(alice).get("/account/").content.decode()
    assert 'id="notify-prefs"' in page and f'name="mode-{Kind.LOCK_BROKEN}"' in page


def test_the_file_details_load_the_follow_toggle(bob, doc):
    page = client_of(bob).get(f"/spaces/{doc.space_id}/items/{doc.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert f'hx-get="/notifications/follow/{doc.pk}"' in page
