"""HTTP Basic for WebDAV: the username and a personal access token as the
password. Account passwords are never accepted here: a token can be revoked
on its own and never unlocks the browser sign-in."""

from __future__ import annotations

from wsgidav.dc.base_dc import BaseDomainController

from portal.accounts.selectors import TokenRejected, token_authenticate
from portal.accounts.services import token_rejected_record

REALM = "Coffer WebDAV (username and a personal access token)"
USER_KEY = "coffer.user"


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
        try:
            token = token_authenticate(password)
        except TokenRejected as exc:
            if exc.token is not None:  # a real token used wrongly: leaked, stale or guessed at
                token_rejected_record(token=exc.token, reason=exc.reason)
            return False
        if token.user.get_username().casefold() != (user_name or "").strip().casefold():
            token_rejected_record(token=token, reason="The token was sent with another user's name.")
            return False
        environ[USER_KEY] = token.user
        return True
