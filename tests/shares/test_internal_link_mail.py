"""A link for named people is e-mailed to each of them when it is made and
when people are added (on commit; a failed message is logged, not fatal)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend

from portal.audit.models import AuditEvent
from portal.celery import app
from portal.shares import services
from tests.files.conftest import signed_in, team, upload  # noqa: F401 - shared fixtures

pytestmark = pytest.mark.django_db


class RefusingBackend(EmailBackend):
    """The locmem outbox, with a mail server that refuses one address."""

    def send_messages(self, messages):
        if any("bounce@" in address for message in messages for address in message.to):
            raise ConnectionRefusedError("the mail server refused the message")
        return super().send_messages(messages)


@pytest.fixture(autouse=True)
def eager_celery():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def report(signed_in, alice, team, upload):  # noqa: F811
    return upload(signed_in(alice), team, "/Report.pdf", b"%PDF-1.4 numbers")


def test_each_recipient_gets_the_link_once_it_is_made(signed_in, alice, report, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        made = signed_in(alice).post("/api/v1/shares", {"node": report["id"], "permission": "download",
                                                        "audience": "people",
                                                        "emails": ["ann@example.com", "ben@example.com"]},
                                     format="json")
    assert made.status_code == 201, made.content
    url = made.json()["url"]
    assert sorted(message.to[0] for message in mail.outbox) == ["ann@example.com", "ben@example.com"]
    assert all(url in message.body and "alice" in message.subject for message in mail.outbox)
    event = AuditEvent.objects.get(action="share.link_mailed")
    assert event.details == {"count": 2, "failed": 0}


def test_people_added_later_get_it_and_the_others_not_again(alice, report, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        link, _ = services.share_link_create(actor=alice, node_id=report["id"], permission="download",
                                             audience="people", emails=["ann@example.com"])
    with django_capture_on_commit_callbacks(execute=True):
        services.share_link_update(actor=alice, link_id=link.pk,
                                   changes={"emails": ["ann@example.com", "cid@example.com"]})
    assert [message.to[0] for message in mail.outbox] == ["ann@example.com", "cid@example.com"]


def test_a_refused_message_is_counted_and_the_others_still_go(settings, alice, report,
                                                               django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "tests.shares.test_internal_link_mail.RefusingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        services.share_link_create(actor=alice, node_id=report["id"], permission="download", audience="people",
                                   emails=["bounce@example.com", "dee@example.com"])
    assert [message.to[0] for message in mail.outbox] == ["dee@example.com"]
    assert AuditEvent.objects.get(action="share.link_mailed").details == {"count": 1, "failed": 1}


def test_nothing_is_mailed_for_a_link_that_was_rolled_back_or_for_anyone_links(alice, report,
                                                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(Exception):
            services.share_link_create(actor=alice, node_id=report["id"], permission="upload", audience="people",
                                       emails=["ann@example.com"])  # upload-only needs a folder: refused
        services.share_link_create(actor=alice, node_id=report["id"], permission="download")
    assert mail.outbox == []


def test_a_bad_address_is_refused_before_anything_is_sent(signed_in, alice, report):
    response = signed_in(alice).post("/api/v1/shares", {"node": report["id"], "permission": "download",
                                                        "audience": "people", "emails": ["not-an-address"]},
                                     format="json")
    assert response.status_code == 400 and mail.outbox == []


def test_an_outsider_cannot_make_the_portal_mail_anyone(signed_in, bob, report):
    response = signed_in(bob).post("/api/v1/shares", {"node": report["id"], "permission": "download",
                                                      "audience": "people", "emails": ["ann@example.com"]},
                                   format="json")
    assert response.status_code == 404 and mail.outbox == []
