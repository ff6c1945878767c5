"""``{{ link.state|label:"link_state" }}``: a stored code's name in the reader's language."""

from django import template

from portal.web.labels import label as _label

register = template.Library()


@register.filter
def label(value, kind: str) -> str:
    return _label(value, kind)
