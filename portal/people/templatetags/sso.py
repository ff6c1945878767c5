"""``{% sso_sign_in %}``: the sign-in page's "Sign in with <provider>" button
(nothing while single sign-on is not configured), and why SSO failed."""

from django import template
from django.conf import settings

register = template.Library()


@register.inclusion_tag("registration/sso_button.html", takes_context=True)
def sso_sign_in(context):
    request = context.get("request")
    return {"enabled": settings.OIDC_ENABLED, "provider": settings.OIDC_PROVIDER_NAME,
            "next": context.get("next", ""), "failed": bool(request and request.GET.get("sso") == "failed")}
