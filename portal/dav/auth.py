"""HTTP Basic for WebDAV: the username and an app password (what the account
page calls the personal access tokens it makes for apps; any of the user's
tokens works) as the password. Account passwords are never accepted here: an
app password can be revoked on its own and never unlocks the browser sign-in.

Failures count in the browser sign-in's throttle (django-axes, keyed by
username and client address: PORTAL_LOGIN_FAILURE_LIMIT failures, then
PORTAL_LOGIN_COOLOFF_MINUTES of refusals) and are audited the same way, as
``auth.login_failed``. A throttled (username, address) is answered 429 with
Retry-After, even with the right token; the same user from another address,
and everyone else, is not affected."""

from __future__ import annotations

import io

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_failure_limit
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.handlers.wsgi import WSGIRequest
from wsgidav.dc.base_dc import BaseDomainController

from portal.accounts.selectors import TokenRejected, token_authenticate
from portal.accounts.services import token_rejected_record

REALM = "Coffer WebDAV (username and an app password)"
USER_KEY = "coffer.user"
# Set on a throttled request: the seconds for its Retry-After (portal.dav.app answers 429).
THROTTLED_KEY = "coffer.dav.throttled"


def cooloff_seconds() -> int:
    return round(settings.AXES_COOLOFF_TIME * 3600)


def _request_for_throttle(environ) -> WSGIRequest:
    """What the sign-in throttle reads (address, agent, path), for the WebDAV
    root: wsgidav has already decoded PATH_INFO, which Django cannot re-read."""
    return WSGIRequest({**environ, "PATH_INFO": "/", "CONTENT_LENGTH": "0", "wsgi.input": io.BytesIO()})


def _token_user(user_name: str, password: str):
    """The token's user when the pair is right, else None (a real token used wrongly is recorded)."""
    try:
        token = token_authenticate(password)
    except TokenRejected as exc:
        if exc.token is not None:  # a real token used wrongly: leaked, stale or guessed at
            token_rejected_record(token=exc.token, reason=exc.reason)
        return None
    if token.user.get_username().casefold() != user_name.casefold():
        token_rejected_record(token=token, reason="The token was sent with another user's name.")
        return None
    return token.user


class TokenDomainController(BaseDomainController):
    def __init__(self, wsgidav_app, config):
        super().__init__(wsgidav_app, config)

    def __str__(self) -> str:
        return "TokenDomainController"

    def get_domain_realm(self, path_info, environ):
        return REALM

    def require_authentication(self, realm, environ):
        return True

    def supports_http_digest_auth(self):
        return False  # digest needs the secret itself; only a hash of each token is stored

    def basic_auth_user(self, realm, user_name, password, environ):
        user_name = (user_name or "").strip()
        request = _request_for_throttle(environ)
        credentials = {"username": user_name.casefold()}
        failures = AxesProxyHandler.get_failures(request, credentials)
        if settings.AXES_LOCK_OUT_AT_FAILURE and failures >= get_failure_limit(request, credentials):
            request.axes_locked_out = True  # recorded as a throttled sign-in; the token is not even looked at
            user_login_failed.send(sender=__name__, credentials=credentials, request=request)
            environ[THROTTLED_KEY] = cooloff_seconds()
            return False
        user = _token_user(user_name, password)
        if user is None:
            user_login_failed.send(sender=__name__, credentials=credentials, request=request)
            if getattr(request, "axes_locked_out", False):  # this failure reached the limit
                environ[THROTTLED_KEY] = cooloff_seconds()
            return False
        if failures and settings.AXES_RESET_ON_SUCCESS:
            AxesProxyHandler.get_implementation().reset_user_attempts(request, credentials)
        environ[USER_KEY] = user
        return True
