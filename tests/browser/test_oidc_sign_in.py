"""Single sign-on in Chromium: "Sign in with …" → the provider's sign-in page
→ back in Coffer, signed in and in the provider's groups; sign-out ends the
provider's session too; a user disabled at the provider loses Coffer at the
next re-check. The provider is the real one of tests/support/oidc_provider."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from portal.accounts.models import User
from portal.people.models import GroupMember, GroupSource
from tests.support.oidc_provider.flow import PASSWORD, configure_coffer, unique

DEADLINE = 30


def _provider_user(provider, *groups) -> str:
    name = unique("fiona")
    provider.user_set(name, password=PASSWORD, email=f"{name}@example.com", first_name="Fiona", groups=list(groups),
                      active=True)
    return name


def _sign_in_through_the_provider(page, provider, name: str) -> None:
    page.goto("/accounts/login/")
    with page.expect_navigation():
        page.get_by_role("link", name="Sign in with Test IdP").click()
    expect(page).to_have_url(re.compile("^" + re.escape(provider.url) + "/accounts/login/"))
    page.get_by_label("IdP username").fill(name)
    page.get_by_label("IdP password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in at the provider").click()


def test_sign_in_with_the_provider_and_sign_out_there_too(page, live_server, settings, oidc_provider,
                                                          console_errors, screenshot):
    configure_coffer(settings, oidc_provider, base_urls=[live_server.url])
    name = _provider_user(oidc_provider, "Design", "Staff")
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto("/accounts/login/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
    screenshot(page, "sign-in page")
    page.set_viewport_size({"width": 1280, "height": 800})

    _sign_in_through_the_provider(page, oidc_provider, name)

    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    screenshot(page, "signed in")
    user = User.objects.get(username=name)
    assert not user.has_usable_password()
    assert set(GroupMember.objects.filter(user=user, group__source=GroupSource.OIDC)
               .values_list("group__name", flat=True)) == {"Design", "Staff"}

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(re.escape(live_server.url) + r"/accounts/login/$"))
    page.goto(f"{oidc_provider.url}/whoami")
    assert '"username": null' in page.content()  # signed out at the provider too
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))


def test_a_user_disabled_at_the_provider_loses_access_at_the_next_recheck(page, live_server, settings,
                                                                          oidc_provider, screenshot):
    configure_coffer(settings, oidc_provider, base_urls=[live_server.url], recheck_seconds=2)
    name = _provider_user(oidc_provider, "Design")
    _sign_in_through_the_provider(page, oidc_provider, name)
    expect(page).to_have_url(live_server.url + "/")

    oidc_provider.user_set(name, active=False)
    deadline = time.monotonic() + DEADLINE
    while "/accounts/login/" not in page.url and time.monotonic() < deadline:
        page.goto(live_server.url + "/account/")  # each page load after the interval asks the provider again
    expect(page).to_have_url(re.compile(r"/accounts/login/\?sso=failed$"))
    expect(page.get_by_role("alert")).to_contain_text("Single sign-on did not sign you in")
    screenshot(page, "signed out after the re-check")
    page.goto(live_server.url + "/account/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/account/$"))
