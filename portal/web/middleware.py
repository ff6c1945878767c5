"""Middleware of the browser portal: two-factor enforcement and page headers."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext

from portal.accounts import twofactor

# What a signed-in user who still owes a second factor may reach with that
# session: signing in (and its code step), enrolling an authenticator, signing
# out. Exact paths: /account/two-factor/off is not one of them.
_SIGN_IN_PATHS = frozenset({"/accounts/login/", "/accounts/login/verify/", "/accounts/logout/",
                            "/account/two-factor/"})
# Paths that do not need a signed-in user (static files, health, language);
# everything else sees the half-signed-in visitor as signed out.
_PUBLIC_PREFIXES = ("/static/", "/i18n/", "/healthz")
# Paths a signed-out visitor may use (share links, signed storage URLs, the
# device API, which authenticates devices by their own token): served, but as
# to a visitor who is not signed in.
_ANONYMOUS_PREFIXES = ("/s/", "/storage/", "/api/v1/backup/enroll")
# Pages that set their own Content-Security-Policy or need inline scripts of their own.
_OWN_CSP_PREFIXES = ("/admin/", "/api/", "/s/", "/storage/", "/dav/", "/static/")


def two_factor_required_response() -> JsonResponse:
    return JsonResponse({"code": "two_factor_required", "detail": {},
                         "message": gettext("Finish two-factor sign-in in the portal first.")}, status=403)


class TwoFactorMiddleware:
    """A session whose user must use two-factor sign-in but has not proven a
    second factor is not a signed-in session: it reaches sign-in, enrollment
    and sign-out; every other path sees an anonymous visitor (``request.user``
    is replaced, so views, DRF's session authentication and share links all
    agree). Pages send the visitor to finish the second factor; the API
    answers 403 ``two_factor_required`` unless the request brings its own
    credentials (a personal access token or a device token)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        path = request.path
        if (user is None or not user.is_authenticated or path in _SIGN_IN_PATHS
                or not twofactor.owes_second_factor(user)):
            return self.get_response(request)
        request.user = AnonymousUser()
        if path.startswith(_PUBLIC_PREFIXES + _ANONYMOUS_PREFIXES):
            return self.get_response(request)
        if path.startswith("/api/"):
            if request.headers.get("Authorization"):
                return self.get_response(request)  # the token decides, never the session
            return two_factor_required_response()
        return redirect("web:two-factor")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def content_security_policy(*, connect_to: tuple[str, ...] = ()) -> str:
    """Scripts only from our own static files (no inline script anywhere);
    uploads may PUT to the object store's presigned URLs, and the viewer's
    images, thumbnails, media and PDFs (redirected there) load from them.
    ``connect_to``: more URLs the page's scripts talk to (the co-editor's websocket)."""
    connect = {"'self'", _origin(settings.PUBLIC_URL), *(_origin(url) for url in connect_to)}
    store = set()
    if settings.STORAGE_BACKEND == "s3" and settings.S3_ENDPOINT:
        store.add(_origin(settings.S3_ENDPOINT))
    connect |= store
    stored = "".join(f" {origin}" for origin in sorted(c for c in store if c))
    return ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: blob:{stored}; media-src 'self'{stored}; font-src 'self'; "
            "connect-src " + " ".join(sorted(c for c in connect if c))
            + f"; object-src 'none'; base-uri 'self'; form-action 'self'{_sign_out_origin()}; frame-ancestors 'none'")


def _sign_out_origin() -> str:
    """Signing out of a single sign-on session goes on to the provider's
    end-session page: the sign-out form's redirect must be allowed there."""
    if settings.OIDC_ENABLED and settings.OIDC_OP_END_SESSION_ENDPOINT:
        return " " + _origin(settings.OIDC_OP_END_SESSION_ENDPOINT)
    return ""


def _credentialed(request) -> bool:
    """A signed-in session (or one owing its second factor), or a token in the request."""
    user = getattr(request, "user", None)
    return bool((user is not None and user.is_authenticated) or request.headers.get("Authorization")
                or settings.SESSION_COOKIE_NAME in request.COOKIES)


class PageSecurityMiddleware:
    """A strict CSP on the portal's own HTML pages; and no answer given to a
    signed-in user or to a request with credentials is kept by a browser or
    a proxy: after signing out on a shared computer, Back must not bring the
    file list or the account page up again from the cache."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Cache-Control" not in response and _credentialed(request):
            response["Cache-Control"] = "private, no-store"
        if (not request.path.startswith(_OWN_CSP_PREFIXES) and "Content-Security-Policy" not in response
                and response.get("Content-Type", "").startswith("text/html")):
            response["Content-Security-Policy"] = content_security_policy()
        return response
