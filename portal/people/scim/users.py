"""A Coffer user as a SCIM User (RFC 7643 §4.1) and back: userName ↔
username, name.givenName/familyName ↔ first/last name, displayName ↔
display name, the primary e-mail ↔ email, active ↔ is_active, externalId ↔
the user's ExternalIdentity of source "scim"; the id is the primary key."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils.translation import gettext

from portal.accounts.models import User
from portal.people.models import ExternalIdentity, GroupSource
from portal.people.scim import patch, schema
from portal.people.scim.errors import invalid_syntax, invalid_value
from portal.people.scim.filters import Field
from portal.people.scim.services import UserFields

SHAPE = patch.Shape(core_uri=schema.USER, multi=frozenset({"emails"}), names={
    name.lower(): name for name in ("userName", "name", "displayName", "emails", "active", "externalId", "password")})

FILTERABLE = {
    ("id", None): Field("pk", "int"),
    ("userName", None): Field("username"),
    ("externalId", None): Field("scim_external_id"),
    ("emails", None): Field("email"),
    ("emails", "value"): Field("email"),
    ("name", "givenName"): Field("first_name"),
    ("name", "familyName"): Field("last_name"),
    ("displayName", None): Field("display_name"),
    ("active", None): Field("is_active", "bool"),
}


def users_queryset() -> QuerySet[User]:
    """Every account (a provider links existing ones by userName), with its SCIM externalId."""
    external = ExternalIdentity.objects.filter(user=OuterRef("pk"), source=GroupSource.SCIM).values("subject")[:1]
    return User.objects.annotate(scim_external_id=Subquery(external)).order_by("pk")


def editable(user: User) -> dict:
    """The attributes a PATCH works on, as they are now."""
    return {
        "userName": user.username,
        "name": {"givenName": user.first_name, "familyName": user.last_name},
        "displayName": user.display_name,
        "emails": [{"value": user.email, "type": "work", "primary": True}] if user.email else [],
        "active": user.is_active,
        "externalId": getattr(user, "scim_external_id", None),
    }


def to_scim(user: User, base: str, groups=()) -> dict:
    body = {"schemas": [schema.USER], "id": str(user.pk), **editable(user)}
    if not body["externalId"]:
        del body["externalId"]
    body["displayName"] = user.display_name or user.get_full_name() or user.username
    given, family = user.first_name, user.last_name
    body["name"] = {k: v for k, v in (("givenName", given), ("familyName", family),
                                      ("formatted", user.get_full_name())) if v}
    body["groups"] = [{"value": str(g.pk), "display": g.name, "$ref": f"{base}/Groups/{g.pk}"} for g in groups]
    created = user.date_joined.isoformat()
    body["meta"] = {"resourceType": "User", "created": created, "lastModified": created,
                    "location": f"{base}/Users/{user.pk}"}
    return body


def fields_from(data) -> UserFields:
    """A POST or PUT body, or a patched ``editable`` dict, as UserFields."""
    if not isinstance(data, dict):
        raise invalid_syntax(gettext("A User is a JSON object."))
    if "schemas" in data and schema.USER not in (data.get("schemas") or []):
        raise invalid_syntax(gettext("A User names the schema %(schema)s.") % {"schema": schema.USER})
    get = patch.get
    username = get(data, "userName")
    if not isinstance(username, str) or not username.strip():
        raise invalid_value(gettext("A User has a userName."))
    name = get(data, "name") or {}
    external_id = get(data, "externalId") if any(k.lower() == "externalid" for k in data) else None
    if external_id is not None and not isinstance(external_id, str):
        external_id = "" if external_id in ({}, None) else str(external_id)
    return UserFields(
        username=username, first_name=_text(get(name, "givenName")), last_name=_text(get(name, "familyName")),
        display_name=_text(get(data, "displayName")), email=primary_email(get(data, "emails")),
        active=active_value(get(data, "active")), external_id=external_id,
        password=get(data, "password") if isinstance(get(data, "password"), str) else None)


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def primary_email(emails) -> str:
    if emails in (None, ""):
        return ""
    if not isinstance(emails, list) or any(not isinstance(e, dict) for e in emails):
        raise invalid_value(gettext("emails is a list of objects with a value."))
    with_value = [e for e in emails if isinstance(patch.get(e, "value"), str) and patch.get(e, "value").strip()]
    chosen = (next((e for e in with_value if active_value(patch.get(e, "primary")) is True), None)
              or next((e for e in with_value if str(patch.get(e, "type", "")).lower() == "work"), None)
              or (with_value[0] if with_value else None))
    return patch.get(chosen, "value", "").strip() if chosen else ""


def active_value(value) -> bool | None:
    """``true``/``false``, also as the strings Entra sometimes sends ("False")."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise invalid_value(gettext("active is true or false, not %(value)r.") % {"value": value})
