"""Writes of the find pages: stars."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.access import Cap
from portal.core.errors import InvalidInput, NotFound
from portal.files.selectors import locate_node
from portal.search.models import Star


def star_toggle(*, actor, node_id, space_id=None) -> bool:
    """Any user who may read the node stars it, or removes their star;
    whether it is starred now. Outsiders get the node's "not found" (also
    when ``space_id`` is given and is not the node's space)."""
    located = locate_node(actor, node_id, Cap.FILE_READ)
    if space_id is not None and str(located.space.pk) != str(space_id):
        raise NotFound(gettext("No such file or folder."))
    if located.node.is_root:
        raise InvalidInput(gettext("A space's top folder cannot be starred; star the space's files and "
                                   "folders instead."), code="cannot_star_root")
    with transaction.atomic():
        removed, _ = Star.objects.filter(user=actor, node=located.node).delete()
        if not removed:
            Star.objects.get_or_create(user=actor, node=located.node)
        record(action=Action.FILE_UNSTARRED if removed else Action.FILE_STARRED, actor=actor,
               target=located.node, target_label=located.path, space=located.space)
    return not removed
