"""The sign-in and callback pages of single sign-on, and sign-out that
continues at the provider. 404 while single sign-on is not configured."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpResponseRedirect
from django.urls import path
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from portal.people.oidc_session import provider_sign_out_url


def _require_enabled() -> None:
    if not settings.OIDC_ENABLED:
        raise Http404("Single sign-on is not configured.")


class SignInStart(OIDCAuthenticationRequestView):
    """"Sign in with …": to the provider's authorization endpoint (code flow, PKCE, nonce, state)."""

    def get(self, request):
        _require_enabled()
        return super().get(request)


class SignInCallback(OIDCAuthenticationCallbackView):
    """The provider sends the browser back here with a code (or an error, such
    as ``login_required`` after a silent re-check: then the session ends)."""

    def get(self, request):
        _require_enabled()
        return super().get(request)


class SignOut(auth_views.LogoutView):
    """Sign-out (POST); an SSO session then signs out at the provider too."""

    def post(self, request, *args, **kwargs):
        at_provider = provider_sign_out_url(request)  # before the session (and its ID token) goes
        response = super().post(request, *args, **kwargs)
        return HttpResponseRedirect(at_provider) if at_provider else response


urlpatterns = [
    path("authenticate/", SignInStart.as_view(), name="oidc_authentication_init"),
    path("callback/", SignInCallback.as_view(), name="oidc_authentication_callback"),
]
