from rest_framework import authentication, exceptions
from django.utils.translation import gettext

from portal.accounts import twofactor
from portal.accounts.selectors import TokenRejected, token_authenticate
from portal.accounts.services import token_rejected_record
from portal.core.errors import Forbidden


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer coffer_...`` with a personal access token."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        if not raw.strip():
            raise exceptions.AuthenticationFailed("The Authorization header has no token after 'Bearer'.")
        try:
            token = token_authenticate(raw)
        except TokenRejected as exc:
            if exc.token is not None:  # a real token used wrongly: leaked, stale or guessed at
                token_rejected_record(token=exc.token, reason=exc.reason)
            raise exceptions.AuthenticationFailed(exc.reason) from None
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class VerifiedSessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication that never honours a half-signed-in
    session (password given, second factor still owed). The middleware already
    hides such a user; this holds even for a view reached some other way."""

    def authenticate(self, request):
        user = getattr(request._request, "user", None)
        if user is not None and user.is_authenticated and twofactor.owes_second_factor(user):
            raise Forbidden(gettext("Finish two-factor sign-in in the portal first."), code="two_factor_required")
        return super().authenticate(request)
