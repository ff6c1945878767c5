from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def notify_poll_seconds() -> int:
    """How often the bell asks for its count (settings.NOTIFY_POLL_SECONDS, 30 by default; tests shorten it)."""
    return max(1, int(getattr(settings, "NOTIFY_POLL_SECONDS", 30)))


@register.inclusion_tag("notify/_prefs_form.html", takes_context=True)
def notify_email_prefs(context):
    """The account page's e-mail notification settings (its view needs to know nothing of them)."""
    from portal.notify.views import prefs_context

    return {**prefs_context(context["request"].user), "csrf_token": context.get("csrf_token")}
