"""What a visit's answer guarantees (portal/shares/visits.py): once a page
or a download's answer has reached the visitor, its audit event and its
count are committed. Here every gunicorn process (master and workers) is
SIGKILLed the moment the status line arrives, before the body is read, and
the database must already hold them: nothing waits in a process for a
later flush."""

from __future__ import annotations

import os
import signal

import pytest
import requests

from portal.audit.actions import Action
from tests.helpers import events
from tests.shares.conftest import row
from tests.shares.test_security_logs import gunicorn  # noqa: F401 - the live portal fixture

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _answered_then_killed(live, url: str) -> int:
    with requests.get(url, stream=True, allow_redirects=False, timeout=30) as answer:
        os.killpg(live.process.pid, signal.SIGKILL)
        live.process.wait(timeout=30)
        return answer.status_code


def test_a_page_view_is_on_record_when_the_portal_is_killed_right_after_answering(
        gunicorn, share, shared_file):  # noqa: F811
    link = share(shared_file["id"])
    assert _answered_then_killed(gunicorn, f"{gunicorn.url}/s/{link['token']}") == 200
    assert len(events(Action.SHARE_VIEWED, target_id=str(link["id"]))) == 1


@pytest.mark.parametrize("limit", [None, 5])
def test_a_download_is_counted_and_on_record_when_the_portal_is_killed_right_after_answering(
        gunicorn, share, shared_file, limit):  # noqa: F811
    link = share(shared_file["id"], max_downloads=limit)
    assert _answered_then_killed(gunicorn, f"{gunicorn.url}/s/{link['token']}/download") == 200
    assert row(link).download_count == 1
    assert len(events(Action.SHARE_DOWNLOADED, target_id=str(link["id"]))) == 1
