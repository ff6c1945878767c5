"""The storage lifecycle's changes that people make: a space's own tiering
policy. (Moves, packing and restores are the system's: ``runs``, ``moves``,
``reads``, ``restores``.)"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.access import require_admin
from portal.core.errors import InvalidInput
from portal.core.validation import whole_number
from portal.lifecycle.models import SpaceTierPolicy
from portal.spaces.models import Space

MAX_DAYS = 36500


@transaction.atomic
def space_tier_policy_set(*, actor, space: Space, tier: str, current_days: int, old_days: int, trash_days: int,
                          promote_on_read: bool = True) -> SpaceTierPolicy:
    """An administrator gives ``space`` its own tiering policy: to which tier
    (blank: never move), after how many days without a read (0: never)."""
    require_admin(actor, gettext("Only administrators change where files are stored."))
    if tier and tier not in settings.TIERS:
        raise InvalidInput(gettext("No storage tier is called %(tier)r; choose one of %(tiers)s, or none.")
                           % {"tier": tier, "tiers": ", ".join(settings.TIERS) or "—"},
                           code="unknown_tier", detail={"field": "tier"})
    days = {name: whole_number(value, field=name, minimum=0, maximum=MAX_DAYS)
            for name, value in (("current_days", current_days), ("old_days", old_days), ("trash_days", trash_days))}
    policy, _ = SpaceTierPolicy.objects.update_or_create(
        space=space, defaults={"tier": tier, **days, "promote_on_read": bool(promote_on_read),
                               "updated_at": timezone.now()})
    record(action=Action.SPACE_TIER_POLICY_CHANGED, actor=actor, target=space, space=space,
           details={"tier": tier, **days, "promote_on_read": bool(promote_on_read)})
    return policy


@transaction.atomic
def space_tier_policy_clear(*, actor, space: Space) -> bool:
    """An administrator puts ``space`` back on the deployment's policy."""
    require_admin(actor, gettext("Only administrators change where files are stored."))
    deleted, _ = SpaceTierPolicy.objects.filter(space=space).delete()
    if deleted:
        record(action=Action.SPACE_TIER_POLICY_CHANGED, actor=actor, target=space, space=space,
               details={"policy": "deployment"})
    return bool(deleted)
