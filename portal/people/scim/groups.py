"""A Coffer group of source "scim" as a SCIM Group (RFC 7643 §4.2): id =
the primary key, displayName = name, externalId = external_id, members =
user ids. Groups made in the portal or mirrored from LDAP or sign-in are
not the provider's: they are neither listed nor changeable here."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext

from portal.people.models import Group, GroupMember, GroupSource
from portal.people.scim import patch, schema
from portal.people.scim.errors import invalid_syntax, invalid_value
from portal.people.scim.filters import Field

SHAPE = patch.Shape(core_uri=schema.GROUP, multi=frozenset({"members"}), names={
    name.lower(): name for name in ("displayName", "members", "externalId")})

FILTERABLE = {
    ("id", None): Field("pk", "int"),
    ("displayName", None): Field("name"),
    ("externalId", None): Field("external_id"),
    ("members", None): Field("memberships__user_id", "int"),
    ("members", "value"): Field("memberships__user_id", "int"),
}


def groups_queryset(*, with_members: bool = False) -> QuerySet[Group]:
    groups = Group.objects.filter(source=GroupSource.SCIM).order_by("pk")
    if with_members:  # one query for the members of a whole page of groups
        members = GroupMember.objects.select_related("user").only("group_id", "user_id", "user__username")
        groups = groups.prefetch_related(Prefetch("memberships", queryset=members.order_by("user_id")))
    return groups


def editable(group: Group) -> dict:
    members = group.memberships.order_by("user_id").values_list("user_id", flat=True)
    return {"displayName": group.name, "externalId": group.external_id or None,
            "members": [{"value": str(pk)} for pk in members]}


def to_scim(group: Group, base: str, *, with_members: bool = True) -> dict:
    body = {"schemas": [schema.GROUP], "id": str(group.pk), "displayName": group.name}
    if group.external_id:
        body["externalId"] = group.external_id
    if with_members:
        body["members"] = [{"value": str(m.user_id), "display": m.user.username, "type": "User",
                            "$ref": f"{base}/Users/{m.user_id}"} for m in group.memberships.all()]
    created = group.created_at.isoformat()
    body["meta"] = {"resourceType": "Group", "created": created, "lastModified": created,
                    "location": f"{base}/Groups/{group.pk}"}
    return body


def read(data) -> tuple[str, str | None, list | None]:
    """(displayName, externalId or None, member user ids or None when not given)."""
    if not isinstance(data, dict):
        raise invalid_syntax(gettext("A Group is a JSON object."))
    if "schemas" in data and schema.GROUP not in (data.get("schemas") or []):
        raise invalid_syntax(gettext("A Group names the schema %(schema)s.") % {"schema": schema.GROUP})
    name = patch.get(data, "displayName")
    if not isinstance(name, str) or not name.strip():
        raise invalid_value(gettext("A Group has a displayName."))
    external_id = patch.get(data, "externalId")
    members = patch.get(data, "members")
    if members is None:
        return name, external_id if isinstance(external_id, str) else None, None
    if not isinstance(members, list) or any(not isinstance(m, dict) for m in members):
        raise invalid_value(gettext("members is a list of objects with a value."))
    return name, external_id if isinstance(external_id, str) else None, [patch.get(m, "value") for m in members]
