"""Sessions signed in through the provider (docs/sso.md, "Sessions").

- Coffer does not ask them for its own second factor: the provider did the
  sign-in, with whatever MFA it requires (enforce MFA there).
- Every PORTAL_OIDC_RECHECK_MINUTES the next page load asks the provider
  again without showing anything (``prompt=none``): a user disabled there, or
  whose session there ended, comes back with an error and is signed out here;
  otherwise the callback brings name, e-mail and groups up to date. Only page
  loads do this (a redirect to the provider is what a page can follow); an
  htmx request is answered ``HX-Refresh`` so the page reloads and does it;
  other background requests (fetch, images, the API) pass until the next page
  load. Sessions of local accounts are never touched.
"""

from __future__ import annotations

import time
from urllib.parse import quote, urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.crypto import get_random_string
from mozilla_django_oidc.utils import add_state_and_verifier_and_nonce_to_session, generate_code_challenge

from portal.people.oidc import BACKEND

EXPIRY_KEY = "oidc_id_token_expiration"
# Not re-checked: the sign-in flow itself, sign-out, and paths that do not use the session.
_EXEMPT_PREFIXES = ("/oidc/", "/accounts/logout/", "/static/", "/healthz", "/i18n/", "/storage/", "/dav/", "/s/")


def signed_in_by_sso(request) -> bool:
    return (settings.OIDC_ENABLED and request.session.get(BACKEND_SESSION_KEY) == BACKEND
            and request.user.is_authenticated)


class SsoSessionMiddleware:
    """Between django-otp's middleware and TwoFactorMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if signed_in_by_sso(request):
            request.user.is_verified = lambda: True  # the provider's MFA stands for Coffer's TOTP
            response = _recheck(request)
            if response is not None:
                return response
        return self.get_response(request)


def _recheck(request):
    if (request.method != "GET" or request.path.startswith(_EXEMPT_PREFIXES)
            or request.session.get(EXPIRY_KEY, 0) > time.time()):
        return None
    if request.headers.get("HX-Request"):
        return HttpResponse(headers={"HX-Refresh": "true"})  # htmx reloads the page, and the page re-checks
    fetch_mode = request.headers.get("Sec-Fetch-Mode")
    if (fetch_mode and fetch_mode != "navigate") or request.headers.get("Authorization") \
            or request.path.startswith("/api/"):
        return None
    return HttpResponseRedirect(silent_sign_in_url(request, next_url=request.get_full_path()))


def silent_sign_in_url(request, *, next_url: str) -> str:
    """The provider's authorization URL with ``prompt=none`` (and PKCE, a
    nonce and a state kept in the session, as the first sign-in)."""
    params = {"response_type": "code", "client_id": settings.OIDC_RP_CLIENT_ID,
              "redirect_uri": request.build_absolute_uri(reverse("oidc_authentication_callback")),
              "state": get_random_string(32), "scope": settings.OIDC_RP_SCOPES, "prompt": "none",
              "nonce": get_random_string(32)}
    verifier = get_random_string(64)
    params.update(code_challenge=generate_code_challenge(verifier, "S256"), code_challenge_method="S256")
    add_state_and_verifier_and_nonce_to_session(request, params["state"], params, verifier)
    request.session["oidc_login_next"] = next_url
    return f"{settings.OIDC_OP_AUTHORIZATION_ENDPOINT}?{urlencode(params, quote_via=quote)}"


def provider_sign_out_url(request) -> str:
    """Where sign-out continues at the provider (RP-initiated logout), or ""
    for a local session or a provider without an end-session endpoint."""
    if not signed_in_by_sso(request) or not settings.OIDC_OP_END_SESSION_ENDPOINT:
        return ""
    back = settings.OIDC_POST_LOGOUT_REDIRECT_URL or request.build_absolute_uri(settings.LOGOUT_REDIRECT_URL)
    params = {"client_id": settings.OIDC_RP_CLIENT_ID, "post_logout_redirect_uri": back}
    if request.session.get("oidc_id_token"):
        params["id_token_hint"] = request.session["oidc_id_token"]
    joiner = "&" if urlsplit(settings.OIDC_OP_END_SESSION_ENDPOINT).query else "?"
    return f"{settings.OIDC_OP_END_SESSION_ENDPOINT}{joiner}{urlencode(params)}"
