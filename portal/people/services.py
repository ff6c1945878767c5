"""Writes to groups. Administrators call these from the console and the
commands; directory syncs and sign-in call them as the system (actor=None)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from portal.accounts.models import User
from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.access import is_admin
from portal.core.errors import Conflict, Forbidden
from portal.core.validation import clean_label
from portal.people.models import Group, GroupMember, GroupSource


def _require_admin(actor) -> None:
    if actor is not None and not is_admin(actor):
        raise Forbidden(gettext("Only administrators manage groups."))


def _clean_group_name(name: str) -> str:
    return clean_label(name, field="name", max_length=150)


def _name_taken(name: str, *, exclude: int | None = None) -> Conflict | None:
    taken = Group.objects.filter(name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        return Conflict(gettext("A group named %(name)r already exists.") % {"name": name}, code="group_exists",
                        detail={"field": "name"})
    return None


@transaction.atomic
def group_create(*, actor, name: str, source: str = GroupSource.LOCAL, external_id: str = "") -> Group:
    """Administrators create local groups; syncs create mirrored ones."""
    _require_admin(actor)
    name = _clean_group_name(name)
    if conflict := _name_taken(name):
        raise conflict
    try:
        with transaction.atomic():
            group = Group.objects.create(name=name, source=GroupSource(source), external_id=external_id or "")
    except IntegrityError:  # a concurrent create of the same name or external id won
        raise Conflict(gettext("A group named %(name)r already exists.") % {"name": name},
                       code="group_exists") from None
    record(action=Action.GROUP_CREATED, actor=actor, target=group,
           details={"source": group.source, **({"external_id": external_id} if external_id else {})})
    return group


@transaction.atomic
def group_rename(*, actor, group: Group, name: str) -> Group:
    _require_admin(actor)
    name = _clean_group_name(name)
    if name == group.name:
        return group
    if conflict := _name_taken(name, exclude=group.pk):
        raise conflict
    old = group.name
    group.name = name
    group.save(update_fields=["name"])
    record(action=Action.GROUP_RENAMED, actor=actor, target=group, details={"from": old, "to": name})
    return group


@transaction.atomic
def group_delete(*, actor, group: Group) -> None:
    """Members lose what the group gave them in spaces at once."""
    _require_admin(actor)
    members = group.memberships.count()
    record(action=Action.GROUP_DELETED, actor=actor, target=group, details={"members": members})
    group.delete()


@transaction.atomic
def group_member_add(*, actor, group: Group, user: User) -> bool:
    """True if the user was added; adding a member twice changes nothing."""
    _require_admin(actor)
    _, created = GroupMember.objects.get_or_create(group=group, user=user)
    if created:
        record(action=Action.GROUP_MEMBER_ADDED, actor=actor, target=user, details={"group": group.name,
                                                                                  "group_id": group.pk})
    return created


@transaction.atomic
def group_member_remove(*, actor, group: Group, user: User) -> bool:
    """True if the user was a member; they lose the group's space roles at once."""
    _require_admin(actor)
    deleted, _ = GroupMember.objects.filter(group=group, user=user).delete()
    if deleted:
        record(action=Action.GROUP_MEMBER_REMOVED, actor=actor, target=user, details={"group": group.name,
                                                                                    "group_id": group.pk})
        _drop_locks_of_former_writers(actor, user)
    return bool(deleted)


def _drop_locks_of_former_writers(actor, user: User) -> None:
    """Who can no longer write in a space keeps no lock on its files."""
    from portal.spaces.services import locks_drop_where_not_writer  # spaces depend on people

    locks_drop_where_not_writer(actor=actor, user=user)


@transaction.atomic
def group_members_set(*, actor, group: Group, user_ids) -> tuple[int, int]:
    """The group's members become exactly ``user_ids`` (a directory sync);
    each change is audited. Returns (added, removed)."""
    _require_admin(actor)
    wanted = set(int(pk) for pk in user_ids)
    current = set(group.memberships.values_list("user_id", flat=True))
    users = {user.pk: user for user in User.objects.filter(pk__in=wanted ^ current)}
    for pk in sorted(wanted - current):
        group_member_add(actor=actor, group=group, user=users[pk])
    for pk in sorted(current - wanted):
        group_member_remove(actor=actor, group=group, user=users[pk])
    return len(wanted - current), len(current - wanted)


@transaction.atomic
def user_groups_set(*, actor, user: User, groups, source: str) -> tuple[int, int]:
    """The user's groups from ``source`` become exactly ``groups`` (claims at
    sign-in); groups of other sources are left alone. Returns (added, removed)."""
    _require_admin(actor)
    wanted = {group.pk: group for group in groups}
    current = {member.group_id: member.group
               for member in GroupMember.objects.filter(user=user, group__source=source).select_related("group")}
    for pk in sorted(set(wanted) - set(current)):
        group_member_add(actor=actor, group=wanted[pk], user=user)
    for pk in sorted(set(current) - set(wanted)):
        group_member_remove(actor=actor, group=current[pk], user=user)
    return len(set(wanted) - set(current)), len(set(current) - set(wanted))


@transaction.atomic
def group_ensure(*, actor, source: str, external_id: str, name: str) -> Group:
    """The group mirrored from ``source`` as ``external_id``, created when
    new and renamed when its name changed there. A local group already
    holding the name makes the mirrored one take "name (source)"."""
    _require_admin(actor)
    group = Group.objects.filter(source=source, external_id=external_id).first()
    name = _clean_group_name(name)
    if group is None:
        if _name_taken(name):
            name = f"{name} ({GroupSource(source).value})"
        return group_create(actor=actor, name=name, source=source, external_id=external_id)
    if group.name != name and not _name_taken(name, exclude=group.pk):
        group_rename(actor=actor, group=group, name=name)
    return group
