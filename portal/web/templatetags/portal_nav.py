"""The left navigation's list of the user's spaces (one query per page)."""

from __future__ import annotations

from django import template

from portal.spaces.selectors import spaces_visible_to

register = template.Library()

NAV_SPACES = 12


@register.simple_tag(takes_context=True)
def nav_spaces(context):
    """The signed-in user's first spaces for the left navigation; [] for anyone else."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    return list(spaces_visible_to(user).only("id", "name")[:NAV_SPACES])
