"""Middleware of the browser portal: two-factor enforcement and page headers."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect

from portal.accounts import twofactor

# Paths a signed-in user who still owes a second factor may reach.
_OPEN_PREFIXES = ("/accounts/", "/account/two-factor/", "/static/", "/i18n/", "/healthz", "/s/", "/storage/",
                  "/dav/", "/api/v1/backup/")
# Pages that set their own Content-Security-Policy or need inline scripts of their own.
_OWN_CSP_PREFIXES = ("/admin/", "/api/", "/s/", "/storage/", "/dav/", "/static/")


class TwoFactorMiddleware:
    """A session whose user must use two-factor sign-in but has not proven a
    second factor reaches only sign-in, enrollment and static pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated and not request.path.startswith(_OPEN_PREFIXES)
                and twofactor.owes_second_factor(user)):
            if request.path.startswith("/api/"):
                return JsonResponse({"code": "two_factor_required", "detail": {},
                                     "message": "Set up two-factor sign-in in the portal first."}, status=403)
            return redirect("web:two-factor")
        return self.get_response(request)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def content_security_policy() -> str:
    """Scripts only from our own static files (no inline script anywhere);
    uploads may PUT to the object store's presigned URLs."""
    connect = {"'self'", _origin(settings.PUBLIC_URL)}
    if settings.STORAGE_BACKEND == "s3" and settings.S3_ENDPOINT:
        connect.add(_origin(settings.S3_ENDPOINT))
    return ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; font-src 'self'; connect-src " + " ".join(sorted(c for c in connect if c))
            + "; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


class PageSecurityMiddleware:
    """A strict CSP on the portal's own HTML pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (not request.path.startswith(_OWN_CSP_PREFIXES) and "Content-Security-Policy" not in response
                and response.get("Content-Type", "").startswith("text/html")):
            response["Content-Security-Policy"] = content_security_policy()
        return response
