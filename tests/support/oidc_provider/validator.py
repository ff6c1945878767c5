from oauth2_provider.oauth2_validators import OAuth2Validator


class Validator(OAuth2Validator):
    """Adds the claims Coffer reads: name, e-mail and the user's groups (as Okta does, under a "groups" scope)."""

    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "groups": "groups"}

    def get_additional_claims(self, request):
        user = request.user
        return {
            "preferred_username": user.username,
            "name": user.get_full_name() or user.username,
            "given_name": user.first_name,
            "family_name": user.last_name,
            "email": user.email,
            "email_verified": bool(user.email),
            "groups": sorted(user.groups.values_list("name", flat=True)),
        }

    def validate_silent_authorization(self, request):
        """``prompt=none``: the client skips consent, so there is nothing to ask."""
        return True

    def validate_silent_login(self, request):
        """``prompt=none``: the authorization view only gets here with a signed-in
        (active) user; without one it already answered ``login_required``."""
        return True
