"""Helpers for the admin panel's bulk actions: only superusers see them, each
runs one service per selected row (so each change is checked and audited on
its own), and a refusal of one row is reported without stopping the rest."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.contrib import messages
from django.utils.translation import gettext_lazy as _

from portal.core.errors import PortalError


def superuser_actions(actions: dict, request, names: Iterable[str]) -> dict:
    """Drop ``names`` from the admin's actions unless the user is a superuser."""
    if not request.user.is_superuser:
        for name in names:
            actions.pop(name, None)
    return actions


def run_bulk(modeladmin, request, ids: Iterable, call: Callable[[object], object], *, done: str) -> int:
    """``call(id)`` for each id; "<done>: n" on success, one error message per refusal."""
    if not request.user.is_superuser:  # the action list hides it; a forged POST lands here
        modeladmin.message_user(request, _("Only superusers can run this action."), messages.ERROR)
        return 0
    count = 0
    for pk in ids:
        try:
            call(pk)
            count += 1
        except PortalError as exc:
            modeladmin.message_user(request, f"#{pk}: {exc.message}", messages.ERROR)
    if count:
        modeladmin.message_user(request, f"{done}: {count}.", messages.SUCCESS)
    return count


class ReadOnlyAdmin:
    """For models that change only through their services (which audit every
    change): the admin lists and shows them, and its actions call services."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
