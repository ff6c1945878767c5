"""Teach drf-spectacular about Coffer's bearer tokens and browser sessions."""

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "portal.accounts.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A personal access token: `Authorization: Bearer coffer_...`"}


class VerifiedSessionScheme(SessionScheme):
    """The browser session, as drf-spectacular describes DRF's own (a subclass is not matched by default)."""

    target_class = "portal.accounts.authentication.VerifiedSessionAuthentication"
