"""Self-service in a real browser: forgot password → the mail → a new
password → sign in; an invitation accepted; both readable at phone width."""

import re
import time

import pytest
from django.core import mail
from playwright.sync_api import expect

from portal.accounts.services_invitations import invitation_create
from tests.support.browser import sign_in

NEW_PASSWORD = "a fresh long passphrase 7"


@pytest.fixture
def eager_celery():
    """The mail task runs in the live server's thread, as a worker would run it."""
    from portal.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _links_to_the_live_server(settings, live_server):
    settings.PUBLIC_URL = live_server.url
    from django.core.cache import cache

    cache.clear()


def mail_to(address: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in mail.outbox if address in m.to]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no mail to {address} within {timeout} s")


def no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url


def test_forgot_password_mail_new_password_and_sign_in(page, alice, eager_celery, console_errors, screenshot):
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    no_sideways_scroll(page)
    page.get_by_label("E-mail address").fill("alice@example.com")
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    screenshot(page, "link-sent")

    link = re.search(r"https?://\S+/accounts/password/reset/\S+/", mail_to("alice@example.com").body).group(0)
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    no_sideways_scroll(page)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Password set")).to_be_visible()
    screenshot(page, "password-set")

    page.goto(link)  # once only
    expect(page.get_by_role("alert")).to_contain_text("This link does not work")

    sign_in(page, "alice", NEW_PASSWORD)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("header")).to_contain_text("alice")


def test_an_invitation_is_accepted_in_the_browser(page, admin, console_errors, screenshot):
    _, token = invitation_create(actor=admin, email="newcomer@example.com")
    link = re.search(r"https?://\S+/accounts/invite/\S+/", mail_to("newcomer@example.com").body).group(0)
    assert token in link
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(link)
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    expect(page.get_by_text("newcomer@example.com")).to_be_visible()
    no_sideways_scroll(page)
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Your name as others see it").fill("Nora Newcomer")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Password again").fill(NEW_PASSWORD)
    screenshot(page, "invitation")
    page.get_by_role("button", name="Create account").click()

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("header")).to_contain_text("Nora Newcomer")
    page.goto(link)
    expect(page.get_by_role("heading", name="This invitation does not work")).to_be_visible()
    console_errors.clear()  # that page's 404, on purpose
