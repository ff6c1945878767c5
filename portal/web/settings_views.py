"""Space settings: members and roles, quota usage, name and version
retention, the share-link policy and the lock policy in force, and (for
owners) deleting the space into the trash."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal.core.access import Cap, Role
from portal.core.errors import InvalidInput
from portal.core.sizes import parse_size, size_text
from portal.governance.selectors import space_retention
from portal.shares.policy import policy_for
from portal.shares.services import space_share_policy_update
from portal.spaces import services
from portal.people.selectors import groups_list
from portal.spaces.models import SpaceKind
from portal.spaces.selectors import members_list, space_access, space_groups_list
from portal.web.common import go_to, int_field, portal_page
from portal.web.selectors import own_link_policy
from portal.web.spaces import quota_percent


@portal_page
@require_GET
def space_settings(request, space_id):
    access = space_access(request.user, space_id, Cap.MEMBER_LIST)
    space = access.space
    groups = list(space_groups_list(space))
    may_add_groups = access.can(Cap.MEMBER_MANAGE) and space.kind == SpaceKind.TEAM and not space.is_archived
    taken = {grant.group_id for grant in groups}
    return render(request, "web/settings/page.html", {
        "space": space, "members": list(members_list(space)), "percent": quota_percent(space),
        "groups": groups,
        "all_groups": [group for group in groups_list() if group.pk not in taken] if may_add_groups else [],
        "roles": Role.choices, "policy": policy_for(space), "own_policy": own_link_policy(space),
        "can_manage_members": access.can(Cap.MEMBER_MANAGE),
        "can_manage_owners": access.can(Cap.OWNER_MANAGE),
        "can_policy": access.can(Cap.SPACE_POLICY),
        "can_rename": access.can(Cap.SPACE_RENAME),
        "can_quota": access.can(Cap.SPACE_QUOTA), "quota_text": size_text(space.quota_bytes),
        "can_delete": access.can(Cap.SPACE_DELETE) and space.kind == SpaceKind.TEAM,
        "lock_manual_hours": settings.LOCK_MANUAL_MAX_SECONDS // 3600,
        "lock_editor_minutes": settings.LOCK_EDITOR_MAX_SECONDS // 60,
        "default_keep_versions": settings.KEEP_VERSIONS,
        "retention": space_retention(space.pk) if access.can(Cap.SPACE_POLICY) else None,
    })


def _group_add(user, space_id, data) -> str:
    grant = services.space_group_add(actor=user, space_id=space_id, group_id=int_field(data, "group"),
                                     role=data.get("role", ""))
    return _("The group %(name)s was added.") % {"name": grant.group.name}


def _group_role(user, space_id, data) -> str:
    services.space_group_role_set(actor=user, space_id=space_id, group_id=int_field(data, "group"),
                                  role=data.get("role", ""))
    return _("The group's role was changed.")


def _group_remove(user, space_id, data) -> str:
    services.space_group_remove(actor=user, space_id=space_id, group_id=int_field(data, "group"))
    return _("The group was removed.")


_GROUP_ACTIONS = {"group-add": _group_add, "group-role": _group_role, "group-remove": _group_remove}


def _tri(data, name):
    """A policy switch: "" leaves the deployment's setting, "yes"/"no" set it for this space."""
    return {"yes": True, "no": False}.get(data.get(name, ""), None)


@portal_page
@require_POST
def space_settings_change(request, space_id, section):
    user, data = request.user, request.POST
    if section == "member-add":
        membership = services.member_add(actor=user, space_id=space_id, username=data.get("username", ""),
                                         role=data.get("role", ""))
        message = _("%(name)s was added.") % {"name": membership.user.get_username()}
    elif section == "member-role":
        services.member_change_role(actor=user, space_id=space_id, user_id=int_field(data, "user"),
                                    role=data.get("role", ""))
        message = _("The role was changed.")
    elif section == "member-remove":
        services.member_remove(actor=user, space_id=space_id, user_id=int_field(data, "user"))
        if int_field(data, "user") == user.pk:
            messages.success(request, _("You left the space."))
            return go_to(request, reverse("web:spaces"))
        message = _("The member was removed.")
    elif section == "trash":
        space = services.space_trash(actor=user, space_id=space_id)
        messages.success(request, _("%(name)s was moved to the trash. An administrator can restore it.")
                         % {"name": space.name})
        return go_to(request, reverse("web:spaces"))
    elif section in _GROUP_ACTIONS:
        message = _GROUP_ACTIONS[section](user, space_id, data)
    elif section == "general":
        services.space_update(actor=user, space_id=space_id, name=data.get("name") or None,
                              keep_versions=int_field(data, "keep_versions", required=False, minimum=1),
                              keep_version_days=int_field(data, "keep_version_days", required=False, minimum=1))
        message = _("Saved.")
    elif section == "quota":
        services.space_update(actor=user, space_id=space_id, quota=parse_size(data.get("quota", "")))
        message = _("The quota was saved.")
    elif section == "link-policy":
        space_share_policy_update(actor=user, space_id=space_id, changes={
            "default_days": int_field(data, "default_days", required=False, minimum=1),
            "max_days": int_field(data, "max_days", required=False, minimum=1),
            "allow_permanent": _tri(data, "allow_permanent"), "require_password": _tri(data, "require_password")})
        message = _("The link policy was saved.")
    else:
        raise InvalidInput(_("Unknown action."), code="unknown_action")
    messages.success(request, message)
    return go_to(request, reverse("web:space-settings", args=[space_id]))
