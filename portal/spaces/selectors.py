"""Reads of spaces, always scoped to what the actor may see."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils.translation import gettext

from portal.core.access import Cap, Role, caps_of, is_admin
from portal.core.errors import Forbidden, NotFound
from portal.spaces.models import Membership, Space


def role_of(actor, space: Space) -> str | None:
    """The actor's role in the space (one query; a caller that resolved the
    space with space_access asks its SpaceAccess instead)."""
    return Membership.objects.filter(space=space, user=actor).values_list("role", flat=True).first()


def spaces_visible_to(actor, *, include_archived: bool = False) -> QuerySet[Space]:
    """The actor's spaces, each annotated with ``actor_role``."""
    role = Membership.objects.filter(space=OuterRef("pk"), user=actor).order_by().values("role")[:1]
    spaces = Space.objects.filter(memberships__user=actor).annotate(actor_role=Subquery(role))
    if not include_archived:
        spaces = spaces.filter(archived_at__isnull=True)
    return spaces.order_by("name", "id")


@dataclass(frozen=True)
class SpaceAccess:
    """A space and what the caller is in it (checked once per request)."""

    space: Space
    role: str | None
    admin: bool

    def can(self, cap: Cap) -> bool:
        return cap in caps_of(self.role, admin=self.admin)

    def require(self, cap: Cap) -> SpaceAccess:
        """Itself if ``cap`` is allowed; NotFound for outsiders, Forbidden naming the role for members."""
        if self.role is None and not self.admin:
            raise NotFound(gettext("No such space."))
        if not self.can(cap):
            who = (gettext("your role (%(role)s)") % {"role": Role(self.role).label} if self.role
                   else gettext("administrators outside the space"))
            raise Forbidden(gettext("In space %(name)r, %(who)s cannot do this (%(value)s).") % {"name": self.space.name, "who": who, "value": cap.value},
                            detail={"capability": cap.value, "role": self.role})
        return self


def can(actor, cap: Cap, space: Space) -> bool:
    """Whether the actor may use ``cap`` in the space (one query; see role_of)."""
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    return cap in caps_of(role_of(actor, space), admin=is_admin(actor))


def access_space(actor, space_id, cap: Cap = Cap.SPACE_VIEW) -> Space:
    """The space if the actor may use ``cap`` on it (see space_access)."""
    return space_access(actor, space_id, cap).space


def space_access(actor, space_id, cap: Cap = Cap.SPACE_VIEW) -> SpaceAccess:
    """The space and the actor's role if the actor may use ``cap`` on it.
    Outsiders get the same NotFound as for a space that does not exist;
    members whose role lacks the capability get Forbidden naming their role."""
    try:
        space_id = int(space_id)
    except (TypeError, ValueError):
        raise NotFound(gettext("No such space.")) from None
    role = Membership.objects.filter(space_id=OuterRef("pk"), user=actor).order_by().values("role")[:1]
    space = Space.objects.filter(pk=space_id).annotate(actor_role=Subquery(role)).first()
    role = space.actor_role if space else None
    if space is None:
        raise NotFound(gettext("No such space."))
    return SpaceAccess(space=space, role=role, admin=is_admin(actor)).require(cap)


def members_list(space: Space) -> QuerySet[Membership]:
    return Membership.objects.filter(space=space).select_related("user").order_by("user__username")
