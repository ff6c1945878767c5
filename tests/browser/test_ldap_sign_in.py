"""A directory user signs in on the normal sign-in page (Chromium, live
server, a real slapd from tests/support/slapd.py) and lands on their spaces."""

import re

from playwright.sync_api import expect

from portal.accounts.models import User
from portal.people.models import ExternalIdentity
from tests.support.browser import sign_in
from tests.support.slapd import password_of


def test_a_directory_user_signs_in_on_the_sign_in_page_and_sees_their_spaces(
        page, ldap_directory, console_errors, screenshot):
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    sign_in(page, "lena", password_of("lena"))

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="My spaces")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("lena")  # the personal space made at first sign-in
    screenshot(page, "ldap-home")
    assert ExternalIdentity.objects.filter(user=User.objects.get(username="lena"), source="ldap").exists()
    assert console_errors == []


def test_a_wrong_directory_password_stays_on_the_sign_in_page(page, ldap_directory, console_errors, screenshot):
    sign_in(page, "lena", "not-her-password")

    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("alert")).to_have_text(re.compile("didn't match"))
    screenshot(page, "ldap-wrong-password")
