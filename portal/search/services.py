"""Writes of the find pages: stars."""

from __future__ import annotations

from django.db import transaction

from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.access import Cap
from portal.files.selectors import locate_node
from portal.search.models import Star


def star_toggle(*, actor, node_id) -> bool:
    """Any user who may read the node stars it, or removes their star;
    whether it is starred now. Outsiders get the node's "not found"."""
    located = locate_node(actor, node_id, Cap.FILE_READ)
    with transaction.atomic():
        removed, _ = Star.objects.filter(user=actor, node=located.node).delete()
        if not removed:
            Star.objects.get_or_create(user=actor, node=located.node)
        record(action=Action.FILE_UNSTARRED if removed else Action.FILE_STARRED, actor=actor,
               target=located.node, target_label=located.path, space=located.space)
    return not removed
