"""Lock, unlock and break-lock buttons of the file panel."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.core.access import Cap
from portal.core.errors import Conflict, InvalidInput
from portal.files import selectors as files
from portal.files.selectors import Located
from portal.locks import selectors as lock_selectors
from portal.locks import services
from portal.locks.models import LockKind
from portal.web.browser import _workspace
from portal.web.common import portal_page

HOURS = {"1": 3600, "4": 4 * 3600, "8": 8 * 3600, "24": 24 * 3600}


def _file(request, node_id, cap: Cap) -> Located:
    located = files.locate_node(request.user, node_id, cap)
    if located.node.is_folder:
        raise InvalidInput(_("Only files can be locked."), code="not_a_file")
    return located


def _drawer(request, located: Located) -> Located | None:
    """The file's details come back with the list when asked from the drawer
    (``drawer=1``); from the row menu only the list (with the new badge) and the toast."""
    return located if request.POST.get("drawer") else None


@portal_page
@require_POST
def lock(request, space_id, node_id):
    located = _file(request, node_id, Cap.FILE_WRITE)
    node = located.node
    timeout = HOURS.get(request.POST.get("hours", ""), None)
    services.lock_acquire(actor=request.user, node=node, kind=LockKind.MANUAL, timeout=timeout,
                          note=request.POST.get("note", ""), client="Coffer web")
    return _workspace(request, space_id, panel=_drawer(request, located),
                      message=_("“%(name)s” is locked.") % {"name": node.name})


@portal_page
@require_POST
def unlock(request, space_id, node_id):
    located = _file(request, node_id, Cap.FILE_READ)
    node = located.node
    own = lock_selectors.own_locks_on(node, request.user)
    if not own:
        raise Conflict(_("You hold no lock on this file."), code="not_lock_owner")
    services.lock_release(actor=request.user, token=own[0].token, node=node)
    return _workspace(request, space_id, panel=_drawer(request, located),
                      message=_("“%(name)s” is unlocked.") % {"name": node.name})


@portal_page
@require_POST
def break_lock(request, space_id, node_id):
    located = _file(request, node_id, Cap.LOCK_BREAK)
    node = located.node
    held = [held for held in lock_selectors.live_locks_for(node) if held.node_id == node.pk]
    if not held:
        raise Conflict(_("This file is not locked."), code="not_locked")
    for held_lock in held:
        services.lock_break(actor=request.user, lock_id=held_lock.pk)
    return _workspace(request, space_id, panel=located,
                      message=_("The lock on “%(name)s” was broken; its owner is told by email.") % {"name": node.name})
