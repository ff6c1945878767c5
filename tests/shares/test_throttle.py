"""Guessing a link's password: backoff and a lockout per address, a cap per
link, 429 with Retry-After, and an audit trail. Time is the throttle's own
clock (``throttle._now``), moved forward by the tests instead of sleeping."""

from __future__ import annotations

import pytest

from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.shares import throttle
from tests.helpers import events
from tests.shares.conftest import PASSWORD, body, unlocked

pytestmark = pytest.mark.django_db
WINDOW = 30 * 60


class Clock:
    """Seconds since the epoch, starting just after the top of an hour (the
    per-link cap counts by clock hour)."""

    def __init__(self):
        self.now = 3600.0 * 480_000 + 5

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(throttle, "_now", fake)
    return fake


@pytest.fixture
def protected(share, shared_file):
    return share(shared_file["id"], password=PASSWORD)


def ten_real_failures(browser, token: str, clock: Clock) -> None:
    """Ten wrong answers, each sent once the growing delay has passed."""
    for attempt in range(10):
        clock.advance(2 ** attempt)
        answer = browser.post(f"/s/{token}", {"password": f"wrong-{attempt}"})
        assert answer.status_code == 403, (attempt, answer.status_code)


def test_a_thousand_wrong_passwords_from_one_address_never_get_in(clock, protected, visitor):
    browser = visitor("192.0.2.50")
    ten_real_failures(browser, protected["token"], clock)
    statuses = []
    for attempt in range(990):
        clock.advance(0.5)  # time passes, but stays inside the half-hour window
        answer = browser.post(f"/s/{protected['token']}", {"password": f"guess-{attempt}"})
        statuses.append(answer.status_code)
        assert answer.status_code == 429 and int(answer["Retry-After"]) >= 1, (attempt, answer.status_code, answer.content[:300])
    assert set(statuses) == {429}
    assert browser.get(f"/s/{protected['token']}/download").status_code == 403
    assert len(events(Action.SHARE_PASSWORD_FAILED, target_id=str(protected["id"]))) == 10
    # Its owner, from somewhere else, still gets in.
    owner = unlocked(visitor("198.51.100.1"), protected["token"])
    assert owner.get(f"/s/{protected['token']}/download").status_code == 200


def test_early_wrong_answers_must_wait_a_growing_delay(clock, protected, visitor):
    browser = visitor("192.0.2.51")
    for _ in range(3):
        assert browser.post(f"/s/{protected['token']}", {"password": "wrong"}).status_code == 403
    for delay in (1, 2, 4):
        too_soon = browser.post(f"/s/{protected['token']}", {"password": "wrong"})
        assert too_soon.status_code == 429 and too_soon["Retry-After"] == str(delay)
        clock.advance(delay)
        assert browser.post(f"/s/{protected['token']}", {"password": "wrong"}).status_code == 403


def test_after_ten_failures_even_the_right_password_waits_for_the_window(clock, protected, visitor):
    browser = visitor("192.0.2.52")
    first_failure = clock.now + 1
    ten_real_failures(browser, protected["token"], clock)
    clock.now = first_failure + WINDOW - 1
    refused = browser.post(f"/s/{protected['token']}", {"password": PASSWORD})
    assert refused.status_code == 429 and refused["Retry-After"] == "1"
    clock.now = first_failure + WINDOW
    assert browser.post(f"/s/{protected['token']}", {"password": PASSWORD}).status_code == 303
    assert body(browser.get(f"/s/{protected['token']}/download"))


def test_failures_from_a_hundred_addresses_close_the_link_to_new_ones_only(clock, protected, visitor):
    token = protected["token"]
    regular = unlocked(visitor("198.51.100.9"), token)
    for number in range(100):
        answer = visitor(f"10.0.{number // 250}.{number % 250 + 1}").post(f"/s/{token}", {"password": "wrong"})
        assert answer.status_code == 403, number
    clock.advance(60)
    fresh = visitor("192.0.2.99")
    refused = fresh.post(f"/s/{token}", {"password": PASSWORD})
    assert refused.status_code == 429
    assert refused["Retry-After"] == str(3600 - 65)
    message = refused.context["error"]
    assert "for this link" in message and f"Try again in {3600 - 65} seconds" in message and "UTC" in message
    # Whoever had already unlocked it keeps access.
    assert regular.get(f"/s/{token}").status_code == 200
    assert regular.get(f"/s/{token}/download").status_code == 200
    clock.advance(3600 - 65)
    assert fresh.post(f"/s/{token}", {"password": PASSWORD}).status_code == 303


def test_failures_and_throttles_are_audited_with_address_and_user_agent(clock, protected, visitor):
    browser = visitor("192.0.2.53", agent="Guesser/1.0")
    for _ in range(4):
        browser.post(f"/s/{protected['token']}", {"password": "wrong"})
    failed = events(Action.SHARE_PASSWORD_FAILED, target_id=str(protected["id"]))
    throttled = events(Action.SHARE_THROTTLED, target_id=str(protected["id"]))
    assert len(failed) == 3 and len(throttled) == 1
    for event in failed + throttled:
        assert (event.ip, event.user_agent) == ("192.0.2.53", "Guesser/1.0")
        assert event.actor_label == "anonymous visitor"
    assert {event.outcome for event in failed} == {Outcome.FAILURE}
    assert throttled[0].outcome == Outcome.DENIED and throttled[0].details["retry_after"] == 1
