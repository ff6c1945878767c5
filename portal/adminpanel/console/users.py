"""Console: users — the list (search, paging, status) and what an
administrator does to an account. Each action is one service call."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from portal.accounts import services as accounts
from portal.adminpanel.console import forms
from portal.adminpanel.console.access import console_page
from portal.adminpanel.console.selectors import user_get, users_page
from portal.core.errors import InvalidInput
from portal.web.common import go_to


@console_page
def user_list(request):
    query = request.GET.get("q", "")
    page = users_page(query, forms.page_number(request.GET))
    return render(request, "manage/users.html", {"console_section": "users", "page": page, "query": query})


@console_page
@require_POST
def user_new(request):
    data = request.POST
    username = forms.text(data, "username", label=gettext("the username"))
    email = forms.text(data, "email", required=False)
    send_link = forms.checked(data, "send_link")
    password = data.get("password") or ""
    if send_link and not email:
        raise InvalidInput(gettext("Enter an e-mail address to send the set-password link to."),
                           code="invalid_email", detail={"field": "email"})
    if not password and not send_link:
        raise InvalidInput(gettext("Choose a password, or e-mail a set-password link."), code="invalid_password",
                           detail={"field": "password"})
    # With a link and no password the account gets a long random one nobody knows until the link replaces it.
    user = accounts.user_create(actor=request.user, username=username, password=password or secrets.token_urlsafe(32),
                                email=email)
    if send_link:
        accounts.user_password_reset_send(actor=request.user, user=user)
    messages.success(request, gettext("The account %(username)s was created.") % {"username": user.get_username()})
    return go_to(request, users_url(user.get_username()))


@console_page
@require_POST
def user_invite(request):
    from portal.accounts.services_invitations import invitation_create

    email = forms.text(request.POST, "email", label=gettext("the e-mail address"))
    invitation_create(actor=request.user, email=email, staff=forms.checked(request.POST, "staff"))
    messages.success(request, gettext("An invitation was sent to %(email)s.") % {"email": email})
    return go_to(request, reverse("manage:users"))


def _disable(request, user):
    accounts.user_disable(actor=request.user, user_id=user.pk)
    return gettext("%(username)s is disabled: signed out everywhere, tokens, links and devices revoked.")


def _enable(request, user):
    accounts.user_enable(actor=request.user, user_id=user.pk)
    return gettext("%(username)s can sign in again.")


def _reset_password(request, user):
    accounts.user_password_reset_send(actor=request.user, user=user)
    return gettext("A link to set a new password was e-mailed to %(username)s.")


def _reset_two_factor(request, user):
    accounts.user_two_factor_reset(actor=request.user, user=user)
    return gettext("Two-factor sign-in of %(username)s was reset.")


def _make_admin(request, user):
    accounts.user_staff_set(actor=request.user, user=user, staff=True)
    return gettext("%(username)s is an administrator now.")


def _unmake_admin(request, user):
    accounts.user_staff_set(actor=request.user, user=user, staff=False)
    return gettext("%(username)s is no longer an administrator.")


USER_ACTIONS = {"disable": _disable, "enable": _enable, "reset-password": _reset_password,
                "reset-two-factor": _reset_two_factor, "make-admin": _make_admin, "unmake-admin": _unmake_admin}


@console_page
@require_POST
def user_action(request, user_id, action):
    user = user_get(user_id)
    done = USER_ACTIONS[action](request, user)
    messages.success(request, done % {"username": user.get_username()})
    return go_to(request, users_url(request.POST.get("q", "")))


def users_url(query: str = "") -> str:
    """The users page, searching for ``query`` if given."""
    return reverse("manage:users") + ("?" + urlencode({"q": query}) if query else "")
