"""Sign-in with a second factor, forgot password, accepting an invitation,
and the account page: profile, password, personal access tokens and app
passwords, two-factor sign-in."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django.views.i18n import set_language
from django_otp import login as otp_login

from portal.accounts import twofactor
from portal.accounts.selectors import token_list
from portal.accounts.selectors import invitation_open
from portal.accounts.services import profile_update, time_zone_set, token_issue, token_revoke
from portal.accounts.services_invitations import invitation_accept
from portal.accounts.services_passwords import password_reset_complete, password_reset_request
from portal.audit.middleware import client_ip
from portal.audit.services import record
from portal.core.errors import InvalidInput, NotFound, PortalError
from portal.web.common import int_field, portal_page
from portal.web.l10n import zone_choices

_PENDING = "web_2fa_pending"  # session: the user who gave the right password and owes a code
APP_PREFIX = "App: "


class SignInView(auth_views.LoginView):
    """Step one: username and password (throttled by django-axes). A user
    with an authenticator is not signed in yet: step two asks for its code."""

    def form_valid(self, form):
        user = form.get_user()
        if twofactor.confirmed_device(user) is None:
            return super().form_valid(form)
        self.request.session[_PENDING] = {"user": user.pk, "backend": user.backend,
                                          "next": self.get_redirect_url() or settings.LOGIN_REDIRECT_URL}
        return redirect("web:sign-in-verify")


def sign_in_verify(request):
    """Step two: the authenticator's code. django-otp throttles wrong codes per device."""
    pending = request.session.get(_PENDING)
    if not pending:
        return redirect("login")
    user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    device = twofactor.confirmed_device(user) if user else None
    if device is None:
        request.session.pop(_PENDING, None)
        return redirect("login")
    error = ""
    if request.method == "POST":
        allowed, _details = device.verify_is_allowed()
        code = request.POST.get("code", "").strip().replace(" ", "")
        if allowed and device.verify_token(code):
            request.session.pop(_PENDING, None)
            user.backend = pending["backend"]
            login(request, user)
            otp_login(request, device)
            target = pending.get("next") or settings.LOGIN_REDIRECT_URL
            if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
                target = settings.LOGIN_REDIRECT_URL
            return redirect(target)
        error = _("That code is not right, or too many were tried: wait a moment and use the newest code.")
        record(action="auth.login_failed", actor=None, actor_label=user.get_username(),
               target_label=user.get_username(), outcome="failure", details={"second_factor": True})
    return render(request, "registration/verify.html", {"error": error}, status=400 if error else 200)


class PasswordChange(auth_views.PasswordChangeView):
    template_name = "web/account/password.html"
    success_url = reverse_lazy("web:account")

    def form_valid(self, form):
        response = super().form_valid(form)
        record(action="auth.password_changed", actor=self.request.user, target=self.request.user)
        messages.success(self.request, gettext_lazy("Your password was changed."))
        return response


@portal_page
def account(request):
    tokens = list(token_list(actor=request.user).filter(revoked_at__isnull=True))
    return render(request, "web/account/page.html", {
        "api_tokens": [t for t in tokens if not t.name.startswith(APP_PREFIX)],
        "app_passwords": [t for t in tokens if t.name.startswith(APP_PREFIX)],
        "app_prefix": APP_PREFIX, "two_factor": twofactor.confirmed_device(request.user) is not None,
        "two_factor_required": twofactor.required_for(request.user),
        "default_days": settings.TOKEN_DEFAULT_DAYS, "max_days": settings.TOKEN_MAX_DAYS,
        "zones": zone_choices(request.user.time_zone), "zone": request.user.time_zone or settings.TIME_ZONE,
        "languages": settings.LANGUAGES,
    })


@portal_page
@require_POST
def profile(request):
    """Name as shown, e-mail address and language."""
    profile_update(actor=request.user, display_name=request.POST.get("display_name", ""),
                   email=request.POST.get("email", ""), language=request.POST.get("language", ""))
    translation.activate(request.user.language or translation.get_language_from_request(request))
    messages.success(request, _("Your profile was saved."))
    return redirect("web:account")


@portal_page
@require_POST
def language(request):
    """The header's language switcher for a signed-in user: it sets the
    cookie as for visitors, and a language chosen on the Account page too
    (which would otherwise win over the cookie)."""
    chosen = request.POST.get("language", "")
    if request.user.language and chosen in dict(settings.LANGUAGES):
        profile_update(actor=request.user, display_name=request.user.display_name, email=request.user.email,
                       language=chosen)
    return set_language(request)


@portal_page
@require_POST
def time_zone(request):
    """The zone every page shows times in."""
    time_zone_set(actor=request.user, time_zone=request.POST.get("time_zone", ""))
    messages.success(request, _("Times are now shown in your time zone."))
    return redirect("web:account")


@portal_page
@require_POST
def token_new(request):
    kind = request.POST.get("kind")
    name = request.POST.get("name", "").strip()
    if not name:
        raise InvalidInput(_("Give it a name, so you know later what uses it."), code="invalid_name")
    if kind == "app":
        name = APP_PREFIX + name
    days = int_field(request.POST, "days", required=False, minimum=1)
    token, plaintext = token_issue(actor=request.user, owner=request.user, name=name, days=days)
    return render(request, "web/account/_secret.html", {"token": token, "secret": plaintext, "kind": kind,
                                                        "username": request.user.get_username()})


@portal_page
@require_POST
def token_revoke_view(request, token_id):
    token_revoke(actor=request.user, token_id=token_id)
    messages.success(request, _("Revoked: programs using it can no longer sign in with it."))
    return redirect("web:account")


@login_required
def two_factor(request):
    """Enroll an authenticator app: scan, then prove it with one code."""
    if twofactor.confirmed_device(request.user) is not None:
        if not request.user.is_verified():  # a session from before the authenticator: sign in again with it
            logout(request)
            return redirect("login")
        return render(request, "web/account/two_factor.html", {"enabled": True})
    device = twofactor.pending_device(request.user)
    error = ""
    if request.method == "POST":
        if twofactor.device_confirm(user=request.user, device=device, code=request.POST.get("code", "")):
            otp_login(request, device)
            messages.success(request, _("Two-factor sign-in is on. You will be asked for a code when you sign in."))
            return redirect("web:account")
        error = _("That code is not right. Check the time on your phone and type the newest code.")
    return render(request, "web/account/two_factor.html", {
        "enabled": False, "qr": twofactor.qr_svg(device), "secret": twofactor.secret_text(device), "error": error,
        "required": twofactor.required_for(request.user)}, status=400 if error else 200)


@portal_page
@require_POST
def two_factor_off(request):
    if twofactor.required_for(request.user):
        raise InvalidInput(_("Your administrator requires two-factor sign-in; it cannot be turned off."),
                           code="two_factor_required")
    # A code from the authenticator, not just the session: whoever holds a
    # stolen session cookie must not be able to take the second factor away.
    device = twofactor.confirmed_device(request.user)
    if device is not None:
        allowed, _details = device.verify_is_allowed()  # django-otp's throttle of wrong codes
        code = request.POST.get("code", "").strip().replace(" ", "")
        if not (allowed and device.verify_token(code)):
            record(action="auth.login_failed", actor=request.user, target=request.user, outcome="failure",
                   details={"second_factor": True, "turning_off": True})
            raise InvalidInput(_("That code is not right, or too many were tried: wait a moment and use the "
                                 "newest code."), code="two_factor_code_wrong")
    twofactor.devices_remove(user=request.user)
    messages.success(request, _("Two-factor sign-in is off."))
    return redirect(reverse("web:account"))


# --- Forgot password -------------------------------------------------------------

class PasswordResetRequest(auth_views.PasswordResetView):
    """Ask for a set-password link. The answer is the same page at once
    whether the address has an account, has none, or asked too often."""

    template_name = "registration/password_reset_form.html"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        password_reset_request(email=form.cleaned_data["email"], ip=client_ip(self.request),
                               language=translation.get_language())
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PasswordResetSent(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "hours": settings.PASSWORD_RESET_TIMEOUT // 3600}


class PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    """The link from the mail: choose a new password (Django checks the token;
    a disabled account's link does not work)."""

    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def form_valid(self, form):
        password_reset_complete(user=form.user, password=form.cleaned_data["new_password1"])
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PasswordResetComplete(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"


# --- Invitations ------------------------------------------------------------------

@sensitive_post_parameters("password", "password2")
@never_cache
def invitation_accept_view(request, token):
    """Choose a username, name and password; then signed in and sent home.
    A used, withdrawn, expired or unknown link: one page for all."""
    invitation = invitation_open(token)
    if invitation is None:
        return render(request, "registration/invitation_invalid.html", status=404)
    values = {key: request.POST.get(key, "").strip() for key in ("username", "display_name")}
    error = ""
    if request.method == "POST":
        password = request.POST.get("password", "")
        if password != request.POST.get("password2", ""):
            error = _("The two passwords differ; type the same one twice.")
        else:
            try:
                user = invitation_accept(token=token, password=password, **values)
            except NotFound:
                return render(request, "registration/invitation_invalid.html", status=404)
            except PortalError as exc:
                error = exc.message
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, _("Welcome to Coffer. Your account is ready."))
                return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "registration/invitation_accept.html",
                  {"values": values, "error": error, "email": invitation.email},
                  status=400 if error else 200)
