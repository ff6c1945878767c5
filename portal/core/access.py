"""Who may do what: the role × capability table, and checked lookups.

Code asks ``SpaceAccess.can(Cap.X)`` or ``can(actor, Cap.X, space)`` (portal.spaces.selectors); nothing re-derives permissions from
roles elsewhere. Lookups of objects named in a request go through ``access_*``
helpers (here and in each app) that answer the same "not found" for missing
and forbidden objects, so outsiders learn nothing.
"""

from __future__ import annotations

import enum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    VIEWER = "viewer", _("Viewer")
    EDITOR = "editor", _("Editor")
    MANAGER = "manager", _("Manager")
    OWNER = "owner", _("Owner")


class Cap(enum.Enum):
    SPACE_VIEW = "space.view"
    FILE_READ = "file.read"
    FILE_WRITE = "file.write"
    TRASH_PURGE = "trash.purge"            # permanent: beyond what an editor's slip should reach
    SHARE_CREATE = "share.create"
    MEMBER_LIST = "member.list"
    MEMBER_MANAGE = "member.manage"        # add/remove/change viewers, editors, managers
    OWNER_MANAGE = "owner.manage"          # grant or take the owner role
    LINK_MANAGE_OTHERS = "link.manage_others"
    LOCK_BREAK = "lock.break"
    SPACE_RENAME = "space.rename"
    SPACE_POLICY = "space.policy"
    SPACE_ARCHIVE = "space.archive"
    SPACE_DELETE = "space.delete"
    SPACE_TRANSFER = "space.transfer"
    SPACE_QUOTA = "space.quota"            # administrators only
    POINT_RESTORE = "space.restore_to_point"  # put a space or folder back as it was at a time (new versions)


_VIEWER = frozenset({Cap.SPACE_VIEW, Cap.FILE_READ, Cap.MEMBER_LIST})
_EDITOR = _VIEWER | {Cap.FILE_WRITE, Cap.SHARE_CREATE}
_MANAGER = _EDITOR | {Cap.TRASH_PURGE, Cap.MEMBER_MANAGE, Cap.LINK_MANAGE_OTHERS, Cap.LOCK_BREAK, Cap.SPACE_RENAME,
                      Cap.SPACE_POLICY, Cap.POINT_RESTORE}
_OWNER = _MANAGER | {Cap.OWNER_MANAGE, Cap.SPACE_ARCHIVE, Cap.SPACE_DELETE, Cap.SPACE_TRANSFER}

ROLE_CAPS: dict[str, frozenset[Cap]] = {
    Role.VIEWER: _VIEWER,
    Role.EDITOR: frozenset(_EDITOR),
    Role.MANAGER: frozenset(_MANAGER),
    Role.OWNER: frozenset(_OWNER),
}

# What a colleague or group given a file or folder (an internal share, portal.shares) may do with it and
# what is below it: read, and for editors write; nothing space-wide (members, links, trash, settings).
GRANT_CAPS: dict[str, frozenset[Cap]] = {
    Role.VIEWER: frozenset({Cap.FILE_READ}),
    Role.EDITOR: frozenset({Cap.FILE_READ, Cap.FILE_WRITE}),
}

# What a site administrator may do in any space, member or not. Archiving
# lets the console freeze a space whose owners are gone, deleting moves it to
# the trash (administrators alone restore it); neither reads a file.
ADMIN_CAPS: frozenset[Cap] = frozenset({Cap.SPACE_VIEW, Cap.MEMBER_LIST, Cap.SPACE_QUOTA, Cap.LOCK_BREAK,
                                        Cap.LINK_MANAGE_OTHERS, Cap.SPACE_ARCHIVE, Cap.SPACE_DELETE,
                                        Cap.POINT_RESTORE})


def is_admin(actor) -> bool:
    return bool(getattr(actor, "is_authenticated", False) and actor.is_active and actor.is_superuser)


def require_admin(actor, message: str) -> None:
    """Forbidden, saying ``message`` (who may do this), unless ``actor`` is an active administrator."""
    if not is_admin(actor):
        from portal.core.errors import Forbidden

        raise Forbidden(message)


def caps_of(role: str | None, *, admin: bool = False) -> frozenset[Cap]:
    caps = ROLE_CAPS.get(role, frozenset()) if role else frozenset()
    return caps | ADMIN_CAPS if admin else caps
