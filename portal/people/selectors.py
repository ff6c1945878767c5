"""Reads of groups (administrators see all; the console and pickers use these)."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from django.utils.translation import gettext

from portal.core.errors import NotFound
from portal.people.models import Group


def groups_list() -> QuerySet[Group]:
    """Every group, each with ``member_count``."""
    return Group.objects.annotate(member_count=Count("memberships")).order_by("name", "id")


def group_get(group_id) -> Group:
    try:
        group = Group.objects.filter(pk=int(group_id)).first()
    except (TypeError, ValueError):
        group = None
    if group is None:
        raise NotFound(gettext("No such group."))
    return group


def group_named(name: str) -> Group | None:
    return Group.objects.filter(name__iexact=(name or "").strip()).first()


def groups_of(user) -> QuerySet[Group]:
    return Group.objects.filter(memberships__user=user).order_by("name", "id")
