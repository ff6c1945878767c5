"""What a role, state or kind is called on a page, in the reader's language.
The stored values stay the stable codes the API speaks; their names are the
TextChoices labels (gettext_lazy), looked up here for values that reach a
template without their model (annotations, dicts)."""

from __future__ import annotations

from portal.audit.models import Outcome
from portal.backups.models import DeviceState
from portal.core.access import Role
from portal.files.models import NodeKind
from portal.locks.models import LockKind
from portal.shares.models import Audience, LinkState, Permission
from portal.spaces.models import SpaceKind

CHOICES = {
    "role": Role, "space_kind": SpaceKind, "link_state": LinkState, "permission": Permission,
    "audience": Audience, "device_state": DeviceState, "lock_kind": LockKind, "node_kind": NodeKind,
    "outcome": Outcome,
}


def label(value, kind: str) -> str:
    """The translated name of ``value`` among ``kind``; an unknown value as it is."""
    choices = CHOICES.get(kind)
    if choices is None or value not in choices.values:
        return value
    return str(choices(value).label)
