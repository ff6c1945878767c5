"""Webhooks against a receiver on 127.0.0.1: signed bodies, retries with
back-off after failures, giving up after the last attempt, SSRF refusals."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.errors import InvalidInput, NotFound
from portal.notify import services, webhooks
from portal.notify.models import DeliveryStatus, Webhook, WebhookDelivery
from portal.notify.tasks import deliver, retry_deliveries

pytestmark = pytest.mark.django_db


def test_an_event_is_delivered_signed_with_the_secret(admin, alice, team, receiver, committed):
    with committed():
        hook, secret = services.webhook_create(actor=admin, url=receiver.url, events=[Action.SPACE_RENAMED])
    with committed():
        record(action=Action.SPACE_RENAMED, actor=alice, target=team, space=team, details={"from": "a", "to": "b"})
        record(action=Action.SPACE_ARCHIVED, actor=alice, target=team, space=team)  # not subscribed
    assert len(receiver.requests) == 1
    sent = receiver.requests[0]
    expected = "sha256=" + hmac.new(secret.encode(), sent["body"], hashlib.sha256).hexdigest()
    assert sent["headers"]["X-Coffer-Signature"] == expected
    assert sent["headers"]["X-Coffer-Event"] == Action.SPACE_RENAMED
    body = receiver.json()
    assert body["action"] == Action.SPACE_RENAMED and body["actor"] == "alice" and body["space"] == team.pk
    assert body["target"]["label"] == "Finance" and body["details"] == {"from": "a", "to": "b"}
    delivery = WebhookDelivery.objects.get()
    assert sent["headers"]["X-Coffer-Delivery"] == str(delivery.pk)
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1 and delivery.response_code == 200
    assert Webhook.objects.get().sealed_secret != secret and webhooks.unseal(hook.sealed_secret) == secret


def test_a_failed_delivery_is_retried_then_succeeds(admin, receiver, committed):
    receiver.codes = [500, 503]
    with committed():
        hook, _ = services.webhook_create(actor=admin, url=receiver.url, events=[Action.FILE_PURGED])
    with committed():
        services.webhook_ping(actor=admin, webhook_id=hook.pk)
    delivery = WebhookDelivery.objects.get(action="ping")
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 3
    assert [entry["code"] for entry in delivery.log] == [500, 503, 200]
    ids = {r["headers"]["X-Coffer-Delivery"] for r in receiver.requests}
    assert ids == {str(delivery.pk)}  # one delivery id across its retries


def test_a_delivery_gives_up_after_the_last_attempt(admin, receiver, committed, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 4
    receiver.codes = [500] * 10
    with committed():
        hook, _ = services.webhook_create(actor=admin, url=receiver.url, events=[Action.FILE_PURGED])
        services.webhook_ping(actor=admin, webhook_id=hook.pk)
    delivery = WebhookDelivery.objects.get(action="ping")
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 4 and len(receiver.requests) == 4
    assert deliver(delivery.pk) is None and retry_deliveries() == 0  # nothing more is sent
    assert len(receiver.requests) == 4


def test_retries_wait_with_exponential_back_off(admin, receiver, committed, settings):
    settings.WEBHOOK_RETRY_SECONDS = 30
    receiver.codes = [500]
    with committed():
        hook, _ = services.webhook_create(actor=admin, url=receiver.url, events=[Action.FILE_PURGED])
        services.webhook_ping(actor=admin, webhook_id=hook.pk)
    delivery = WebhookDelivery.objects.get(action="ping")
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    wait = (delivery.next_attempt_at - delivery.created_at).total_seconds()
    assert 29 <= wait <= 60
    assert retry_deliveries() == 0  # not due yet
    assert len(receiver.requests) == 1


def test_a_paused_webhooks_queued_deliveries_wait_until_it_resumes(admin, alice, team, receiver, committed):
    with committed():
        hook, _ = services.webhook_create(actor=admin, url=receiver.url, events=[Action.SPACE_RENAMED])
        services.webhook_change(actor=admin, webhook_id=hook.pk, active=False)
        delivery = WebhookDelivery.objects.create(webhook=hook, event=record(
            action=Action.SPACE_RENAMED, actor=alice, target=team, space=team), action=Action.SPACE_RENAMED)
    assert deliver(delivery.pk) is None and receiver.requests == []
    with committed():
        services.webhook_change(actor=admin, webhook_id=hook.pk, active=True)
    assert retry_deliveries() == 1
    assert len(receiver.requests) == 1 and WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.DELIVERED


def test_a_paused_webhook_gets_no_events(admin, alice, team, receiver, committed):
    with committed():
        hook, _ = services.webhook_create(actor=admin, url=receiver.url, events=["*"])
        services.webhook_change(actor=admin, webhook_id=hook.pk, active=False)
    with committed():
        record(action=Action.SPACE_RENAMED, actor=alice, target=team, space=team)
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)", "http://",
                                 "https://user:pw@example.com/", 42])
def test_only_http_urls_are_accepted(admin, url):
    with pytest.raises(InvalidInput):
        services.webhook_create(actor=admin, url=url, events=["*"])


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/", "http://localhost/", "http://10.1.2.3/",
                                 "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://0.0.0.0/",
                                 "http://[::ffff:192.168.1.1]/"])
def test_private_addresses_are_refused_by_default(admin, url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(InvalidInput) as refused:
        services.webhook_create(actor=admin, url=url, events=["*"])
    assert refused.value.code == "private_address"


def test_a_delivery_to_an_address_that_became_private_is_refused(admin, receiver, committed, settings):
    with committed():
        hook, _ = services.webhook_create(actor=admin, url=receiver.url, events=["*"])
    settings.WEBHOOK_ALLOW_PRIVATE = False
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    with committed():
        services.webhook_ping(actor=admin, webhook_id=hook.pk)
    delivery = WebhookDelivery.objects.get(action="ping")
    assert delivery.status == DeliveryStatus.FAILED and "private" in delivery.last_error
    assert receiver.requests == []


def test_unknown_event_types_are_refused(admin, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    for events in ([], ["no.such"], "file.uploaded", None):
        with pytest.raises(InvalidInput):
            services.webhook_create(actor=admin, url="http://127.0.0.1/", events=events)


def test_only_administrators_manage_webhooks(alice, admin, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    with pytest.raises(NotFound):
        services.webhook_create(actor=alice, url="http://127.0.0.1/", events=["*"])
    hook, _ = services.webhook_create(actor=admin, url="http://127.0.0.1/", events=["*"])
    for call in (lambda: services.webhook_delete(actor=alice, webhook_id=hook.pk),
                 lambda: services.webhook_ping(actor=alice, webhook_id=hook.pk),
                 lambda: services.webhook_change(actor=alice, webhook_id=hook.pk, active=False)):
        with pytest.raises(NotFound):
            call()
