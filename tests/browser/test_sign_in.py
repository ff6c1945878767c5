"""The login form and the home page in a real browser (Chromium, live server)."""

import re

from playwright.sync_api import expect

from tests.factories import PASSWORD
from tests.support.browser import sign_in


def test_a_user_signs_in_with_the_login_form_and_sees_the_home_page(page, alice, console_errors, screenshot):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "login")

    sign_in(page, "alice", PASSWORD)

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="My spaces")).to_be_visible()
    expect(page.locator("header")).to_contain_text("alice")
    screenshot(page, "home")


def test_a_wrong_password_shows_an_error_and_stays_on_the_login_form(page, alice, console_errors, screenshot):
    sign_in(page, "alice", "not the password")

    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("alert")).to_have_text(re.compile("didn't match"))
    expect(page.get_by_label("Username")).to_have_value("alice")
    screenshot(page, "wrong-password")


def test_the_login_and_home_pages_log_no_console_errors_and_load_their_stylesheet(
        signed_in_page, page, alice, console_errors, screenshot):
    page.goto("/accounts/login/")
    expect(page.locator("header")).to_have_css("background-color", "rgb(35, 50, 74)")  # coffer.css applied
    screenshot(page, "login")

    home = signed_in_page(alice)
    expect(home.get_by_role("heading", name="My spaces")).to_be_visible()
    screenshot(home, "home")
    assert console_errors == []


def test_signing_out_returns_to_the_login_form(signed_in_page, alice, console_errors, screenshot):
    home = signed_in_page(alice)
    home.get_by_role("button", name="Sign out").click()

    expect(home).to_have_url(re.compile(r"/accounts/login/$"))
    expect(home.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(home, "signed-out")
