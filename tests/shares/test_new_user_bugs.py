"""A throttled share page (issue 14): it says "1 second", not "1 seconds",
and keeps the password box (with the wait for the page's script), so the
visitor can try again once the time has passed."""

from __future__ import annotations

import re

import pytest

from portal.shares import throttle
from tests.shares.conftest import PASSWORD
from tests.shares.test_throttle import Clock

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(throttle, "_now", fake)
    return fake


@pytest.fixture
def protected(share, shared_file):
    return share(shared_file["id"], password=PASSWORD)


def test_a_throttled_visitor_keeps_the_password_box_and_reads_one_second(clock, protected, visitor):
    browser = visitor("192.0.2.61")
    token = protected["token"]
    for _ in range(3):
        assert browser.post(f"/s/{token}", {"password": "wrong"}).status_code == 403
    too_soon = browser.post(f"/s/{token}", {"password": "wrong"})
    html = too_soon.content.decode()
    assert too_soon.status_code == 429 and too_soon["Retry-After"] == "1"
    assert "Try again in 1 second (at " in html and "1 seconds" not in html
    assert re.search(r'<form method="post" data-retry-after="1">', html)
    assert 'id="share-password" name="password" type="password"' in html
    assert "/static/shares/unlock.js" in html
    clock.advance(1)
    assert browser.post(f"/s/{token}", {"password": PASSWORD}).status_code == 303


def test_a_longer_wait_is_said_in_seconds(clock, protected, visitor):
    browser = visitor("192.0.2.62")
    token = protected["token"]
    for _ in range(3):  # free failures; then a wait of 1 s, then 2 s
        browser.post(f"/s/{token}", {"password": "wrong"})
    clock.advance(1)
    assert browser.post(f"/s/{token}", {"password": "wrong"}).status_code == 403
    refused = browser.post(f"/s/{token}", {"password": "wrong"})
    assert refused.status_code == 429 and "Try again in 2 seconds" in refused.content.decode()


def test_a_wrong_password_page_has_no_wait(protected, visitor):
    answer = visitor("192.0.2.63").post(f"/s/{protected['token']}", {"password": "wrong"})
    assert answer.status_code == 403 and "data-retry-after" not in answer.content.decode()
    assert "unlock.js" not in answer.content.decode()
