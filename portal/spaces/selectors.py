"""Reads of spaces, always scoped to what the actor may see."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext

from portal.core.access import Cap, Role, caps_of, is_admin
from portal.core.errors import Forbidden, NotFound
from portal.people.models import GroupMember
from portal.spaces.models import Membership, Space, SpaceGroup

MEMBERS, GRANTS, GROUP_MEMBERS = Membership._meta.db_table, SpaceGroup._meta.db_table, GroupMember._meta.db_table
SPACES = Space._meta.db_table
SPACE_ID = f'"{SPACES}"."id"'
_RANKS = {Role.VIEWER: 1, Role.EDITOR: 2, Role.MANAGER: 3, Role.OWNER: 4}


def _rank_sql(column: str) -> str:
    return "CASE " + " ".join(f"WHEN {column} = '{role}' THEN {rank}" for role, rank in _RANKS.items()) + " END"


def role_sql(space_column: str, user_column: str = "%s") -> str:
    """SQL for the effective role of a user in a space: the highest of their
    own membership's and their groups' roles, NULL for outsiders. Both
    arguments are SQL (a column of the outer query, or ``%s``: then the user's
    id is the next two parameters)."""
    own = f"(SELECT {_rank_sql('m.role')} FROM {MEMBERS} m WHERE m.space_id = {space_column} AND m.user_id = {user_column})"
    via_groups = (f"(SELECT MAX({_rank_sql('g.role')}) FROM {GRANTS} g JOIN {GROUP_MEMBERS} gm ON gm.group_id = g.group_id"
                  f" WHERE g.space_id = {space_column} AND gm.user_id = {user_column})")
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    rank = f"{greatest}(COALESCE({own}, 0), COALESCE({via_groups}, 0))"
    return "(CASE " + rank + "".join(f" WHEN {n} THEN '{role}'" for role, n in _RANKS.items()) + " END)"


def actor_role(actor, space_column: str = SPACE_ID) -> RawSQL:
    """The actor's effective role in the space of ``space_column``, as an annotation."""
    return RawSQL(role_sql(space_column), [actor.pk, actor.pk])


def member_space_ids_sql(user_param: str = "%s") -> str:
    """SQL: the ids of the spaces a user is in, directly or through a group,
    leaving out spaces in the trash (the user's id is the next two parameters)."""
    return (f"SELECT m.space_id FROM {MEMBERS} m JOIN {SPACES} live ON live.id = m.space_id"
            f" WHERE m.user_id = {user_param} AND live.deleted_at IS NULL UNION "
            f"SELECT g.space_id FROM {GRANTS} g JOIN {GROUP_MEMBERS} gm ON gm.group_id = g.group_id"
            f" JOIN {SPACES} live ON live.id = g.space_id WHERE gm.user_id = {user_param} AND live.deleted_at IS NULL")


def in_spaces_of(actor, field: str = "space_id", *, roles=None) -> Q:
    """A filter: ``field`` is a space the actor is in (with one of ``roles``, if given)."""
    own = Membership.objects.filter(user=actor)
    via_groups = SpaceGroup.objects.filter(group__memberships__user=actor)
    if roles is not None:
        own, via_groups = own.filter(role__in=roles), via_groups.filter(role__in=roles)
    return Q(**{f"{field}__in": own.values("space_id")}) | Q(**{f"{field}__in": via_groups.values("space_id")})


def role_of(actor, space: Space) -> str | None:
    """The actor's role in the space (one query; a caller that resolved the
    space with space_access asks its SpaceAccess instead)."""
    return Space.objects.filter(pk=space.pk).annotate(role=actor_role(actor)).values_list("role", flat=True).first()


def spaces_visible_to(actor, *, include_archived: bool = False) -> QuerySet[Space]:
    """The actor's spaces (their own and their groups'; none in the trash), each annotated with ``actor_role``."""
    spaces = (Space.objects.filter(in_spaces_of(actor, "pk"), deleted_at__isnull=True)
              .annotate(actor_role=actor_role(actor)))
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
    Outsiders get the same NotFound as for a space that does not exist, and
    so does everyone (administrators too) for a space in the trash; members
    whose role lacks the capability get Forbidden naming their role."""
    try:
        space_id = int(space_id)
    except (TypeError, ValueError):
        raise NotFound(gettext("No such space.")) from None
    space = Space.objects.filter(pk=space_id).annotate(actor_role=actor_role(actor)).first()
    role = space.actor_role if space else None
    if space is None or space.deleted_at is not None:
        raise NotFound(gettext("No such space."))
    return SpaceAccess(space=space, role=role, admin=is_admin(actor)).require(cap)


def members_list(space: Space) -> QuerySet[Membership]:
    return Membership.objects.filter(space=space).select_related("user").order_by("user__username")


def space_groups_list(space: Space) -> QuerySet[SpaceGroup]:
    """The groups granted a role in the space, each with ``member_count``."""
    from django.db.models import Count

    return (SpaceGroup.objects.filter(space=space).select_related("group")
            .annotate(member_count=Count("group__memberships")).order_by("group__name", "id"))
