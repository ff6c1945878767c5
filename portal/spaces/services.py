"""Writes to spaces and their members. Each function is one transaction with
its audit event(s); the docstring says who may call it."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.accounts.models import User
from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.access import Cap, Role, caps_of, is_admin
from portal.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from portal.core.validation import clean_label, whole_number
from portal.spaces.models import MAX_KEEP_VERSION_DAYS, MAX_KEEP_VERSIONS, Membership, Space, SpaceGroup, SpaceKind
from portal.spaces.selectors import SpaceAccess, access_space, actor_role, role_of

NAME_MAX = 100


def _clean_name(name) -> str:
    return clean_label(name, field="name", max_length=NAME_MAX)


def _clean_role(role) -> str:
    if role not in Role.values:
        raise InvalidInput(gettext("Unknown role %(role)r; use one of: %(join)s.") % {"role": role, "join": ', '.join(Role.values)},
                           detail={"field": "role", "choices": Role.values})
    return role


MAX_QUOTA = 2**60  # 1 EiB: beyond it a number only overflows the column


def _clean_quota(quota) -> int:
    return whole_number(quota, field="quota", minimum=0, maximum=MAX_QUOTA)


def _ensure_name_free(actor, name: str, *, exclude: int | None = None) -> None:
    taken = Space.objects.filter(kind=SpaceKind.TEAM, created_by=actor, name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise Conflict(gettext("You already have a space named %(name)r; choose another name.") % {"name": name}, code="name_taken")


def _ensure_below_space_limit(actor: User) -> None:
    """Every team space comes with its own quota: without a bound on how many
    one user creates, quotas bound nothing. Archived spaces count (they keep
    their bytes). The user's row is locked so two creates cannot both pass."""
    User.objects.select_for_update().filter(pk=actor.pk).exists()
    made = Space.objects.filter(kind=SpaceKind.TEAM, created_by=actor).count()
    if made >= settings.MAX_SPACES_PER_USER:
        raise Forbidden(gettext("You have created %(made)s team spaces, the most allowed here; use one of them, or ask an administrator to create another.") % {"made": made}, code="space_limit",
                        detail={"limit": settings.MAX_SPACES_PER_USER})


@transaction.atomic
def space_create(*, actor: User, name: str, quota: int | None = None) -> Space:
    """Who the site's policy allows (everyone, a group's members, or
    administrators only; set in the admin console) creates a team space and
    becomes its owner; only administrators choose its quota."""
    from portal.adminpanel.selectors import default_team_quota, may_create_space  # the console reads every app

    if not may_create_space(actor):
        raise Forbidden(gettext("On this site only some people create team spaces; ask an administrator to create "
                                "one for you or to let you create spaces."), code="space_creation_restricted")
    name = _clean_name(name)
    if quota is not None and not is_admin(actor):
        raise Forbidden(gettext("Only administrators set quotas; leave quota out to get the default."))
    quota = default_team_quota() if quota is None else _clean_quota(quota)
    if not is_admin(actor):
        _ensure_below_space_limit(actor)
    _ensure_name_free(actor, name)
    try:
        with transaction.atomic():
            space = Space.objects.create(name=name, kind=SpaceKind.TEAM, created_by=actor, quota_bytes=quota)
    except IntegrityError:  # a concurrent create with the same name won
        raise Conflict(gettext("You already have a space named %(name)r; choose another name.") % {"name": name}, code="name_taken") from None
    Membership.objects.create(space=space, user=actor, role=Role.OWNER)
    record(action=Action.SPACE_CREATED, actor=actor, target=space, space=space, details={"quota": quota})
    return space


@transaction.atomic
def personal_space_create(*, user: User) -> Space:
    """The system gives every new user one personal space."""
    space = Space.objects.create(name=user.get_username(), kind=SpaceKind.PERSONAL, created_by=user,
                                 quota_bytes=settings.DEFAULT_PERSONAL_QUOTA)
    Membership.objects.create(space=space, user=user, role=Role.OWNER)
    record(action=Action.SPACE_CREATED, actor=None, target=space, space=space,
           details={"kind": SpaceKind.PERSONAL, "quota": space.quota_bytes})
    return space


def _locked_space(actor, space_id, cap: Cap) -> SpaceAccess:
    """Check access, then lock the row so concurrent changes to one space
    (two owners demoting each other, say) run one after the other; the role
    is read again under the lock."""
    space = access_space(actor, space_id, cap)
    locked = Space.objects.select_for_update(of=("self",)).annotate(actor_role=actor_role(actor)).get(pk=space.pk)
    return SpaceAccess(space=locked, role=locked.actor_role, admin=is_admin(actor)).require(cap)


def _refuse_if_archived(space: Space) -> None:
    if space.is_archived:
        raise Conflict(gettext("Space %(name)r is archived; an owner must unarchive it first.") % {"name": space.name}, code="archived")


_UNSET = object()


@transaction.atomic
def space_update(*, actor: User, space_id, name=None, archived=None, quota=None, keep_versions=_UNSET,
                 keep_version_days=_UNSET) -> Space:
    """Managers rename and set version retention (None: the deployment's
    default), owners archive and unarchive, administrators set quota. Each
    change is checked and audited on its own; nothing changes unless all pass."""
    access = _locked_space(actor, space_id, Cap.SPACE_VIEW)
    space, caps = access.space, caps_of(access.role, admin=access.admin)
    if name is not None:
        _require(Cap.SPACE_RENAME in caps, gettext("Only managers and owners rename a space."))
        _rename(actor, space, _clean_name(name))
    if archived is not None:
        if not isinstance(archived, bool):
            raise InvalidInput(gettext("archived must be true or false."), detail={"field": "archived"})
        _require(Cap.SPACE_ARCHIVE in caps, gettext("Only owners archive or unarchive a space."))
        _set_archived(actor, space, archived)
    if quota is not None:
        _require(Cap.SPACE_QUOTA in caps, gettext("Only administrators change a space's quota."))
        _set_quota(actor, space, _clean_quota(quota))
    retention = {k: v for k, v in (("keep_versions", keep_versions), ("keep_version_days", keep_version_days))
                 if v is not _UNSET}
    if retention:
        _require(Cap.SPACE_POLICY in caps, gettext("Only managers and owners change a space's policies."))
        _set_retention(actor, space, retention)
    return space


def _set_retention(actor, space: Space, retention: dict) -> None:
    changes = {}
    for field, value in retention.items():
        if value is not None:
            value = whole_number(value, field=field, minimum=1 if field == "keep_versions" else 0,
                                 maximum=MAX_KEEP_VERSIONS if field == "keep_versions" else MAX_KEEP_VERSION_DAYS)
        if getattr(space, field) != value:
            changes[field] = {"from": getattr(space, field), "to": value}
            setattr(space, field, value)
    if changes:
        space.save(update_fields=list(changes))
        record(action=Action.SPACE_POLICY_CHANGED, actor=actor, target=space, space=space, details=changes)


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise Forbidden(message)


def _rename(actor, space: Space, name: str) -> None:
    _refuse_if_archived(space)
    if space.kind == SpaceKind.PERSONAL:
        raise InvalidInput(gettext("A personal space is named after its user and cannot be renamed."))
    if name == space.name:
        return
    if space.created_by_id:
        _ensure_name_free(space.created_by, name, exclude=space.pk)
    old = space.name
    space.name = name
    space.save(update_fields=["name"])
    record(action=Action.SPACE_RENAMED, actor=actor, target=space, space=space, details={"from": old, "to": name})


def _set_archived(actor, space: Space, archived: bool) -> None:
    if space.kind == SpaceKind.PERSONAL:
        raise InvalidInput(gettext("A personal space cannot be archived."))
    if archived == space.is_archived:
        return
    space.archived_at = timezone.now() if archived else None
    space.save(update_fields=["archived_at"])
    record(action=Action.SPACE_ARCHIVED if archived else Action.SPACE_UNARCHIVED, actor=actor, target=space,
           space=space)


@transaction.atomic
def space_trash(*, actor: User, space_id) -> Space:
    """Owners of a team space, and administrators (Cap.SPACE_DELETE), move it
    to the trash: from then on it is gone for everyone (its files, links,
    shares, WebDAV folder and search hits) until an administrator restores it.
    A personal space cannot be trashed."""
    space = _locked_space(actor, space_id, Cap.SPACE_DELETE).space
    if space.kind == SpaceKind.PERSONAL:
        raise InvalidInput(gettext("A personal space cannot be deleted; it belongs to its user's account."),
                           code="personal_space")
    space.deleted_at, space.deleted_by = timezone.now(), actor
    space.save(update_fields=["deleted_at", "deleted_by"])
    record(action=Action.SPACE_TRASHED, actor=actor, target=space, space=space)
    return space


@transaction.atomic
def space_restore(*, actor: User, space_id) -> Space:
    """Administrators bring a space back from the trash, as it was."""
    missing = NotFound(gettext("No such space in the trash."))
    if not is_admin(actor) or not str(space_id).isdigit():
        raise missing
    space = Space.objects.select_for_update().filter(pk=int(space_id), deleted_at__isnull=False).first()
    if space is None:
        raise missing
    space.deleted_at, space.deleted_by = None, None
    space.save(update_fields=["deleted_at", "deleted_by"])
    record(action=Action.SPACE_RESTORED, actor=actor, target=space, space=space)
    return space


def _set_quota(actor, space: Space, quota: int) -> None:
    if quota == space.quota_bytes:
        return
    old = space.quota_bytes
    space.quota_bytes = quota
    space.save(update_fields=["quota_bytes"])
    record(action=Action.SPACE_QUOTA_CHANGED, actor=actor, target=space, space=space,
           details={"from": old, "to": quota, "used": space.used_bytes})


# --- Members ---------------------------------------------------------------

def _require_member_rights(access: SpaceAccess, *roles: str) -> None:
    """Managers handle viewers, editors and managers; only owners touch the owner role."""
    caps = caps_of(access.role)
    if Role.OWNER in roles:
        _require(Cap.OWNER_MANAGE in caps, gettext("Only owners grant or take the owner role."))
    _require(Cap.MEMBER_MANAGE in caps, gettext("Only managers and owners change the members of a space."))


def _member(space: Space, user_id) -> Membership:
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        raise NotFound(gettext("No such member in this space.")) from None
    membership = Membership.objects.select_related("user").filter(space=space, user_id=user_id).first()
    if membership is None:
        raise NotFound(gettext("No such member in this space."))
    return membership


def _refuse_if_last_owner(space: Space, membership: Membership, verb: str) -> None:
    if membership.role != Role.OWNER:
        return
    if Membership.objects.filter(space=space, role=Role.OWNER).count() <= 1:
        raise Conflict(gettext("%(get_username)s is the last owner of %(name)r and cannot %(verb)s; make someone else an owner first.") % {"get_username": membership.user.get_username(), "name": space.name, "verb": verb}, code="last_owner")


@transaction.atomic
def member_add(*, actor: User, space_id, username: str, role: str) -> Membership:
    """Managers add viewers, editors and managers; owners may add owners."""
    access = _locked_space(actor, space_id, Cap.MEMBER_LIST)
    space = access.space
    role = _clean_role(role)
    _require_member_rights(access, role)
    _refuse_if_archived(space)
    if space.kind == SpaceKind.PERSONAL:
        raise InvalidInput(gettext("A personal space has one member; create a team space to work with others."))
    username = clean_label(username, field="username", max_length=150)
    user = User.objects.filter(username__iexact=username, is_active=True).first()  # names are unique ignoring case
    if user is None:
        raise InvalidInput(gettext("There is no active user named %(username)r.") % {"username": username}, code="unknown_user",
                           detail={"field": "username"})
    if Membership.objects.filter(space=space, user=user).exists():
        raise Conflict(gettext("%(get_username)s is already a member of %(name)r.") % {"get_username": user.get_username(), "name": space.name}, code="already_member")
    membership = Membership.objects.create(space=space, user=user, role=role)
    record(action=Action.MEMBER_ADDED, actor=actor, target=user, space=space, details={"role": role})
    return membership


@transaction.atomic
def member_change_role(*, actor: User, space_id, user_id, role: str) -> Membership:
    """Managers change roles among viewer, editor and manager; owners also
    grant or take the owner role. The last owner cannot be demoted."""
    access = _locked_space(actor, space_id, Cap.MEMBER_LIST)
    space = access.space
    role = _clean_role(role)
    membership = _member(space, user_id)
    _require_member_rights(access, role, membership.role)
    _refuse_if_archived(space)
    if membership.role == role:
        return membership
    _refuse_if_last_owner(space, membership, gettext("be demoted"))
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    record(action=Action.MEMBER_ROLE_CHANGED, actor=actor, target=membership.user, space=space,
           details={"from": old, "to": role})
    _drop_locks_unless_writer(actor, membership.user, space)
    return membership


def _drop_locks_unless_writer(actor, user, space: Space) -> None:
    """Who can no longer write in the space (their own role and their
    groups' together) keeps no lock on its files."""
    from portal.locks.services import locks_drop_for_member  # locks depend on files, which depend on spaces

    if Cap.FILE_WRITE not in caps_of(role_of(user, space)):
        locks_drop_for_member(actor=actor, user=user, space=space)


def locks_drop_where_not_writer(*, actor, user) -> None:
    """After ``user`` left a group: their locks in spaces where they can no
    longer write are dropped (audited as broken locks, like a removal)."""
    from portal.locks.models import Lock

    for space in Space.objects.filter(pk__in=Lock.objects.filter(owner=user).values("node__space_id")):
        _drop_locks_unless_writer(actor, user, space)


@transaction.atomic
def member_remove(*, actor: User, space_id, user_id) -> None:
    """Managers remove viewers, editors and managers; owners remove owners;
    anyone may leave. The last owner can do neither."""
    access = _locked_space(actor, space_id, Cap.MEMBER_LIST)
    space = access.space
    membership = _member(space, user_id)
    leaving = membership.user_id == actor.pk
    if not leaving:
        _require_member_rights(access, membership.role)
    _refuse_if_last_owner(space, membership, gettext("leave") if leaving else gettext("be removed"))
    membership.delete()
    record(action=Action.MEMBER_REMOVED, actor=actor, target=membership.user, space=space,
           details={"role": membership.role, "left": leaving})
    _drop_locks_unless_writer(actor, membership.user, space)


@transaction.atomic
def space_owner_set(*, actor: User, space_id, username: str) -> Membership:
    """Administrators, member of the space or not, make a user an owner of a
    team space (adding them, or raising their role): the way back into a
    space whose owners left or cannot be reached."""
    if not is_admin(actor):
        raise NotFound(gettext("No such space."))
    space = Space.objects.select_for_update().filter(pk=access_space(actor, space_id).pk).get()
    _refuse_if_archived(space)
    if space.kind == SpaceKind.PERSONAL:
        raise InvalidInput(gettext("A personal space has one member; create a team space to work with others."))
    username = clean_label(username, field="username", max_length=150)
    user = User.objects.filter(username__iexact=username, is_active=True).first()
    if user is None:
        raise InvalidInput(gettext("There is no active user named %(username)r.") % {"username": username},
                           code="unknown_user", detail={"field": "username"})
    membership = Membership.objects.filter(space=space, user=user).first()
    if membership is None:
        membership = Membership.objects.create(space=space, user=user, role=Role.OWNER)
        record(action=Action.MEMBER_ADDED, actor=actor, target=user, space=space, details={"role": Role.OWNER})
    elif membership.role != Role.OWNER:
        old, membership.role = membership.role, Role.OWNER
        membership.save(update_fields=["role"])
        record(action=Action.MEMBER_ROLE_CHANGED, actor=actor, target=user, space=space,
               details={"from": old, "to": Role.OWNER})
    return membership


# --- Groups in a space -----------------------------------------------------

def _space_group(space: Space, group_id) -> SpaceGroup:
    try:
        grant = SpaceGroup.objects.select_related("group").filter(space=space, group_id=int(group_id)).first()
    except (TypeError, ValueError):
        grant = None
    if grant is None:
        raise NotFound(gettext("No such group in this space."))
    return grant


@transaction.atomic
def space_group_add(*, actor: User, space_id, group_id, role: str) -> SpaceGroup:
    """Managers give a group a role in a team space (owners may make it
    owner): each of its members has at least that role there."""
    from portal.people.selectors import group_get

    access = _locked_space(actor, space_id, Cap.MEMBER_LIST)
    space, role = access.space, _clean_role(role)
    _require_member_rights(access, role)
    _refuse_if_archived(space)
    if space.kind == SpaceKind.PERSONAL:
        raise InvalidInput(gettext("A personal space has one member; create a team space to work with others."))
    try:
        group = group_get(group_id)
    except NotFound:
        raise InvalidInput(gettext("There is no such group."), code="unknown_group", detail={"field": "group"}) from None
    if SpaceGroup.objects.filter(space=space, group=group).exists():
        raise Conflict(gettext("The group %(group)s is already in %(name)r.") % {"group": group.name, "name": space.name},
                       code="already_member")
    grant = SpaceGroup.objects.create(space=space, group=group, role=role)
    record(action=Action.SPACE_GROUP_ADDED, actor=actor, target=space, space=space,
           details={"group": group.name, "group_id": group.pk, "role": role})
    return grant


@transaction.atomic
def space_group_role_set(*, actor: User, space_id, group_id, role: str) -> SpaceGroup:
    """Managers change a group's role among viewer, editor and manager; owners also the owner role."""
    access = _locked_space(actor, space_id, Cap.MEMBER_LIST)
    space, role = access.space, _clean_role(role)
    grant = _space_group(space, group_id)
    _require_member_rights(access, role, grant.role)
    _refuse_if_archived(space)
    if grant.role == role:
        return grant
    old, grant.role = grant.role, role
    grant.save(update_fields=["role"])
    record(action=Action.SPACE_GROUP_ROLE_CHANGED, actor=actor, target=space, space=space,
           details={"group": grant.group.name, "group_id": grant.group_id, "from": old, "to": role})
    _drop_group_locks(actor, grant)
    return grant


@transaction.atomic
def space_group_remove(*, actor: User, space_id, group_id) -> None:
    """Managers take a group out of a space; its members keep only their own roles."""
    access = _locked_space(actor, space_id, Cap.MEMBER_LIST)
    grant = _space_group(access.space, group_id)
    _require_member_rights(access, grant.role)
    grant.delete()
    record(action=Action.SPACE_GROUP_REMOVED, actor=actor, target=access.space, space=access.space,
           details={"group": grant.group.name, "group_id": grant.group_id, "role": grant.role})
    _drop_group_locks(actor, grant)


def _drop_group_locks(actor, grant: SpaceGroup) -> None:
    from portal.locks.models import Lock

    owners = User.objects.filter(pk__in=Lock.objects.filter(node__space=grant.space).values("owner_id"),
                                 group_memberships__group_id=grant.group_id)
    for user in owners:
        _drop_locks_unless_writer(actor, user, grant.space)
