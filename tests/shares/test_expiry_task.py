"""The beat task that records ``share.expired`` once per link that expired."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.actions import Action
from portal.shares.models import ShareLink
from portal.shares.services import shares_expire
from portal.shares.tasks import expire_links
from tests.helpers import events

pytestmark = pytest.mark.django_db


def expire(link: dict, *, ago: timedelta = timedelta(minutes=1)) -> None:
    ShareLink.objects.filter(pk=link["id"]).update(expires_at=timezone.now() - ago)


def expired_events(link: dict) -> list:
    return events(Action.SHARE_EXPIRED, target_id=str(link["id"]))


def test_each_expired_link_is_recorded_once_however_often_the_task_runs(share, shared_file):
    first, second, live = share(shared_file["id"]), share(shared_file["id"]), share(shared_file["id"])
    expire(first)
    expire(second, ago=timedelta(days=3))
    assert shares_expire() == 2
    assert expire_links() == 0  # the Celery task, a second run
    assert len(expired_events(first)) == len(expired_events(second)) == 1
    assert expired_events(live) == []
    event = expired_events(first)[0]
    assert event.actor is None and event.space_id == shared_file["space"]
    assert event.target_label == f"link {first['id']} on /Reports/q3.txt"


def test_revoked_links_are_not_recorded_as_expired(signed_in, alice, share, shared_file):
    link = share(shared_file["id"])
    assert signed_in(alice).delete(f"/api/v1/shares/{link['id']}").status_code == 204
    expire(link)
    assert shares_expire() == 0 and expired_events(link) == []


def test_a_link_given_a_new_expiry_is_recorded_again_when_that_one_passes(signed_in, alice, share, shared_file):
    link = share(shared_file["id"])
    expire(link)
    shares_expire()
    later = (timezone.now() + timedelta(days=2)).isoformat()
    assert signed_in(alice).patch(f"/api/v1/shares/{link['id']}", {"expires_at": later},
                                  format="json").status_code == 200
    assert shares_expire() == 0
    assert shares_expire(now=timezone.now() + timedelta(days=3)) == 1
    assert len(expired_events(link)) == 2
