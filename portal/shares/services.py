"""Writes of share links by their owners, space managers and administrators.

Visitors' actions (unlocking, viewing, downloading, uploading) are in
``visits.py``; both record every change in the audit log in the same
transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.access import GRANT_CAPS, Cap
from portal.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from portal.core.validation import clean_label, whole_number
from portal.files import names
from portal.files.selectors import locate_node, path_label, path_names_of
from portal.governance.services_sensitive import link_answer, link_gate_new
from portal.spaces.quota import refuse_archived
from portal.scanning.selectors import ensure_not_quarantined
from portal.shares import policy, tokens
from portal.shares.mailing import queue_link_mail
from portal.shares.models import Audience, InternalShare, Permission, ShareLink, ShareRecipient, SpaceSharePolicy
from portal.shares.selectors import access_internal_share, access_link
from portal.spaces.selectors import access_space, can

MAX_RECIPIENTS = 50
UNSET = policy._UNSET


def _choice(value, choices, *, field: str) -> str:
    if value not in choices.values:
        raise InvalidInput(gettext("%(field)s is one of: %(join)s.") % {"field": field, "join": ', '.join(choices.values)}, code=f"invalid_{field}",
                           detail={"field": field, "choices": list(choices.values)})
    return value


def _check_permission_fits(permission: str, node) -> None:
    if permission == Permission.UPLOAD and not node.is_folder:
        raise InvalidInput(gettext("An upload-only link (file drop) needs a folder, not a file."), code="invalid_permission")


def _emails(values, audience: str) -> list[str]:
    if audience != Audience.PEOPLE:
        if values:
            raise InvalidInput(gettext("emails are only for links whose audience is people."), code="invalid_emails")
        return []
    if not isinstance(values, list) or not values:
        raise InvalidInput(gettext("A link for named people needs at least one email address."), code="invalid_emails")
    if len(values) > MAX_RECIPIENTS:
        raise InvalidInput(gettext("At most %(MAX_RECIPIENTS)s email addresses per link.") % {"MAX_RECIPIENTS": MAX_RECIPIENTS}, code="invalid_emails")
    cleaned = []
    for value in values:
        try:
            validate_email(value)
        except (ValidationError, TypeError):
            raise InvalidInput(gettext("%(value)r is not an email address.") % {"value": value}, code="invalid_emails",
                               detail={"email": str(value)}) from None
        cleaned.append(value.strip().lower())
    return sorted(set(cleaned))


def _limit(value, *, field: str) -> int | None:
    return None if value is None else whole_number(value, field=field, minimum=1, maximum=1_000_000)


def _expiry(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = parse_datetime(value.strip())
        if parsed is None:
            raise InvalidInput(gettext("expires_at must be an ISO 8601 date and time, e.g. 2026-12-31T18:00:00Z."),
                               code="invalid_expires_at")
    else:
        raise InvalidInput(gettext("expires_at must be an ISO 8601 date and time or null."), code="invalid_expires_at")
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
    return parsed


def _password_hash(password, link_policy) -> str:
    if password in (None, ""):
        if link_policy.require_password:
            raise InvalidInput(gettext("Links here need a password by policy."), code="password_required")
        return ""
    if not isinstance(password, str):
        raise InvalidInput(gettext("password must be text."), code="invalid_password")
    policy.check_link_password(password)
    return make_password(password)  # argon2: the first of PASSWORD_HASHERS


def _watermark(value) -> str:
    return "" if value in (None, "") else clean_label(value, field="watermark", max_length=200)


def _changed(link: ShareLink, fields: list[str], *, actor, action: str = Action.SHARE_CHANGED,
             details: dict | None = None) -> ShareLink:
    link.updated_at = timezone.now()
    link.save(update_fields=[*fields, "updated_at"])
    record(action=action, actor=actor, target=link, target_label=link_label(link), space=link.space,
           details={"fields": sorted(set(fields)), **(details or {})})
    return link


def link_label(link: ShareLink, path_names: list[str] | tuple[str, ...] | None = None) -> str:
    """``link 7 on /Reports/q3.txt``: the same label in every event of a link
    (just the name once the node left the live tree; visits take it from
    their ResolvedLink). ``path_names``: the node's path, when the caller has it."""
    if path_names is None:
        try:
            path_names = path_names_of(link.node)
        except NotFound:
            return f"link {link.pk} on {link.node.name}"
    return f"link {link.pk} on {names.join(list(path_names))}"


@transaction.atomic
def share_link_create(*, actor, node_id, permission, audience=Audience.ANYONE, emails=None, password=None,
                      expires_at=UNSET, max_downloads=None, max_previews=None, watermark="",
                      notify_on_first_download=False) -> tuple[ShareLink, str]:
    """Members with share.create (editors and up) share a live node they can
    read. Returns the link and its token (the only time it is handed out in
    full, though the owner can ask for it again)."""
    located = locate_node(actor, node_id, Cap.SHARE_CREATE)
    node = located.node
    refuse_archived(node.space)
    if not node.is_folder:
        ensure_not_quarantined(node.current_version)
    permission = _choice(permission, Permission, field="permission")
    audience = _choice(audience, Audience, field="audience")
    _check_permission_fits(permission, node)
    sensitivity = link_answer(node, audience)  # a labelled file's policy: block refuses here
    link_policy = policy.policy_for(node.space)
    token, selector, verifier = tokens.generate()
    link = ShareLink(
        node=node, space=node.space, created_by=actor, selector=selector, verifier=verifier,
        sealed_token=tokens.seal(token), permission=permission, audience=audience,
        password_hash=_password_hash(password, link_policy),
        expires_at=policy.expiry_for(link_policy, expires_at if expires_at is UNSET else _expiry(expires_at)),
        max_downloads=_limit(max_downloads, field="max_downloads"),
        max_previews=_limit(max_previews, field="max_previews"),
        watermark=_watermark(watermark), notify_on_first_download=bool(notify_on_first_download))
    recipients = _emails(emails, audience)
    link.save()
    link_gate_new(link, sensitivity)
    link.sensitivity = sensitivity  # the policy's answer, for the caller to show (warn, approve)
    ShareRecipient.objects.bulk_create([ShareRecipient(link=link, email=email) for email in recipients])
    record(action=Action.SHARE_CREATED, actor=actor, target=link, target_label=link_label(link, located.path_names),
           space=node.space,
           details={"permission": permission, "audience": audience, "password": link.has_password,
                    "expires_at": link.expires_at.isoformat() if link.expires_at else None,
                    "max_downloads": link.max_downloads, "max_previews": link.max_previews,
                    "recipients": recipients, **({"sensitivity": sensitivity.action, "labels": sensitivity.labels}
                                                 if sensitivity.labels else {})})
    queue_link_mail(link, recipients, language=_language_of(actor))
    return link, token


def _language_of(user) -> str:
    """The sharer's language for mails to people without an account: theirs, else the request's."""
    return getattr(user, "language", "") or translation.get_language() or ""


_OWNER_FIELDS = {"permission", "password", "expires_at", "max_downloads", "max_previews", "watermark", "emails",
                 "enabled", "notify_on_first_download"}


@transaction.atomic
def share_link_update(*, actor, link_id, changes: dict) -> ShareLink:
    """The owner edits their link; space managers and administrators may only
    flip their own switch (``manager_enabled``), which the owner cannot undo."""
    link = access_link(actor, link_id, lock=True)
    is_owner = link.created_by_id == actor.pk
    may_manage = can(actor, Cap.LINK_MANAGE_OTHERS, link.space)
    unknown = set(changes) - _OWNER_FIELDS - {"manager_enabled"}
    if unknown:
        raise InvalidInput(gettext("Unknown field(s): %(join)s.") % {"join": ', '.join(sorted(unknown))}, code="unknown_fields")
    if "manager_enabled" in changes and not may_manage:
        raise Forbidden(gettext("Only a space manager or an administrator can use this switch."), code="not_manager")
    if set(changes) & _OWNER_FIELDS and not is_owner:
        raise Forbidden(gettext("Only the link's owner can change it; a manager can disable or revoke it."),
                        code="not_owner")
    if link.revoked_at is not None:
        raise InvalidInput(gettext("This link is revoked; create a new one."), code="link_revoked")
    link_policy = policy.policy_for(link.space)
    fields, details = [], {}
    if "permission" in changes:
        link.permission = _choice(changes["permission"], Permission, field="permission")
        _check_permission_fits(link.permission, link.node)
        fields.append("permission")
    if "password" in changes:
        link.password_hash = _password_hash(changes["password"], link_policy)
        link.unlock_epoch += 1  # whoever unlocked with the old password must answer again
        fields += ["password_hash", "unlock_epoch"]
    if "expires_at" in changes:
        link.expires_at = policy.expiry_for(link_policy, _expiry(changes["expires_at"]))
        link.expiry_recorded_at = None
        fields += ["expires_at", "expiry_recorded_at"]
    for field in ("max_downloads", "max_previews"):
        if field in changes:
            setattr(link, field, _limit(changes[field], field=field))
            fields.append(field)
    if "watermark" in changes:
        link.watermark = _watermark(changes["watermark"])
        fields.append("watermark")
    if "notify_on_first_download" in changes:
        link.notify_on_first_download = bool(changes["notify_on_first_download"])
        fields.append("notify_on_first_download")
    if "emails" in changes:
        recipients = _emails(changes["emails"], link.audience)
        added = sorted(set(recipients) - set(link.recipients.values_list("email", flat=True)))
        queue_link_mail(link, added, language=_language_of(actor))
        link.recipients.all().delete()
        ShareRecipient.objects.bulk_create([ShareRecipient(link=link, email=email) for email in recipients])
        link.unlock_epoch += 1
        fields.append("unlock_epoch")
        details["recipients"] = recipients
    action = Action.SHARE_CHANGED
    if "enabled" in changes:
        link.owner_enabled = _flag(changes["enabled"], field="enabled")
        fields.append("owner_enabled")
        action = Action.SHARE_ENABLED if link.owner_enabled else Action.SHARE_DISABLED
    if "manager_enabled" in changes:
        link.manager_enabled = _flag(changes["manager_enabled"], field="manager_enabled")
        link.manager_disabled_by = None if link.manager_enabled else actor
        fields += ["manager_enabled", "manager_disabled_by"]
        action = Action.SHARE_ENABLED if link.manager_enabled else Action.SHARE_DISABLED
        details["by_manager"] = True
    if not fields:
        raise InvalidInput(gettext("Nothing to change."), code="no_changes")
    return _changed(link, fields, actor=actor, action=action, details=details)


def _flag(value, *, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(gettext("%(field)s must be true or false.") % {"field": field}, code=f"invalid_{field}")
    return value


@transaction.atomic
def share_link_revoke(*, actor, link_id) -> ShareLink:
    """The owner, a space manager or an administrator revokes a link for good;
    the system (actor=None) does when it disables the owner's account.
    The row stays, so its access log does too."""
    if actor is None:
        link = ShareLink.objects.select_for_update().get(pk=link_id)
    else:
        link = access_link(actor, link_id, lock=True)
        if link.created_by_id != actor.pk and not can(actor, Cap.LINK_MANAGE_OTHERS, link.space):
            raise Forbidden(gettext("Only the link's owner, a space manager or an administrator can revoke it."),
                            code="not_owner")
    if link.revoked_at is not None:
        return link
    link.revoked_at, link.revoked_by = timezone.now(), actor
    return _changed(link, ["revoked_at", "revoked_by"], actor=actor, action=Action.SHARE_REVOKED)


@transaction.atomic
def space_share_policy_update(*, actor, space_id, changes: dict) -> SpaceSharePolicy:
    """Managers tighten the link policy of their space (never beyond the deployment's)."""
    space = access_space(actor, space_id, Cap.SPACE_POLICY)
    own, _ = SpaceSharePolicy.objects.select_for_update().get_or_create(space=space)
    unknown = set(changes) - {"default_days", "max_days", "allow_permanent", "require_password"}
    if unknown:
        raise InvalidInput(gettext("Unknown field(s): %(join)s.") % {"join": ', '.join(sorted(unknown))}, code="unknown_fields")
    for field in ("default_days", "max_days"):
        if field in changes:
            setattr(own, field, None if changes[field] is None else whole_number(changes[field], field=field,
                                                                                 minimum=1, maximum=36500))
    for field in ("allow_permanent", "require_password"):
        if field in changes:
            setattr(own, field, None if changes[field] is None else _flag(changes[field], field=field))
    if own.default_days and own.max_days and own.default_days > own.max_days:
        raise InvalidInput(gettext("default_days cannot exceed max_days."), code="invalid_policy")
    own.updated_at = timezone.now()
    own.save()
    record(action=Action.SPACE_POLICY_CHANGED, actor=actor, target=space, space=space,
           details={"share_policy": {f: getattr(own, f) for f in ("default_days", "max_days", "allow_permanent",
                                                                 "require_password")}})
    return own


def _policy_breaks(link: ShareLink, link_policy, now) -> list[str]:
    """What in ``link`` a space with ``link_policy`` would not have allowed."""
    breaks = []
    if link_policy.require_password and not link.has_password:
        breaks.append("password_required")
    if link.expires_at is None and not link_policy.allow_permanent:
        breaks.append("expiry_required")
    elif link.expires_at is not None and link.expires_at > now + timedelta(days=link_policy.max_days):
        breaks.append("expiry_too_far")
    return breaks


def share_links_follow(*, actor, node_ids: list[int], from_space, to_space) -> None:
    """Called by a move of ``node_ids`` (a node and everything below it) from
    ``from_space`` to ``to_space``, inside the move's transaction: each live
    link on them now belongs to ``to_space`` (its managers see and revoke
    it, its policy and its members' access govern it), or, where that
    space's policy would not have allowed it, is revoked. Both are audited."""
    now = timezone.now()
    link_policy = policy.policy_for(to_space)
    links = (ShareLink.objects.select_for_update(of=("self",)).select_related("node")
             .filter(node_id__in=node_ids, revoked_at__isnull=True).order_by("pk"))
    for link in links:
        breaks = _policy_breaks(link, link_policy, now)
        link.space = to_space
        moved = {"from_space": from_space.pk, "to_space": to_space.pk}
        if breaks:
            link.revoked_at, link.revoked_by = now, actor
            _changed(link, ["space", "revoked_at", "revoked_by"], actor=actor, action=Action.SHARE_REVOKED,
                     details={**moved, "reason": "moved to a space whose link policy forbids it", "policy": breaks})
        else:
            _changed(link, ["space"], actor=actor, details=moved)


def shares_expire(*, now=None) -> int:
    """Beat task: record ``share.expired`` once for each link that expired."""
    now = now or timezone.now()
    done = 0
    candidates = ShareLink.objects.filter(expires_at__lte=now, expiry_recorded_at__isnull=True,
                                          revoked_at__isnull=True).values_list("pk", flat=True)
    for link_id in list(candidates[:10_000]):
        with transaction.atomic():
            updated = ShareLink.objects.filter(pk=link_id, expiry_recorded_at__isnull=True).update(
                expiry_recorded_at=now)
            if updated:
                link = ShareLink.objects.select_related("node", "space").get(pk=link_id)
                record(action=Action.SHARE_EXPIRED, target=link, target_label=link_label(link), space=link.space,
                       details={"expires_at": link.expires_at.isoformat()})
                done += 1
    return done


# --- internal shares: a file or folder given to a colleague or a group --------------------

def _recipient(user, group) -> tuple:
    """(user, group), exactly one of them: an active account (object, id or
    username) or a group (object, id or name)."""
    from django.contrib.auth import get_user_model

    from portal.people.models import Group

    if (user in (None, "")) == (group in (None, "")):
        raise InvalidInput(gettext("Share with one colleague or one group: give user or group, not both."),
                           code="invalid_recipient")
    if user not in (None, ""):
        users = get_user_model().objects.filter(is_active=True)
        found = user if isinstance(user, users.model) and user.is_active else (
            users.filter(pk=user).first() if isinstance(user, int) and not isinstance(user, bool) else
            users.filter(username__iexact=user.strip()).first() if isinstance(user, str) else None)
        if found is None:
            raise InvalidInput(gettext("No active user is called %(name)s.") % {"name": user}, code="unknown_user")
        return found, None
    found = group if isinstance(group, Group) else (
        Group.objects.filter(pk=group).first() if isinstance(group, int) and not isinstance(group, bool) else
        Group.objects.filter(name__iexact=group.strip()).first() if isinstance(group, str) else None)
    if found is None:
        raise InvalidInput(gettext("No group is called %(name)s.") % {"name": group}, code="unknown_group")
    return None, found


def _grant_role(role, *, sharer_can_write: bool) -> str:
    if role not in GRANT_CAPS:
        raise InvalidInput(gettext("role is one of: %(join)s.") % {"join": ", ".join(GRANT_CAPS)}, code="invalid_role")
    if Cap.FILE_WRITE in GRANT_CAPS[role] and not sharer_can_write:
        raise Forbidden(gettext("You can only share what you may do yourself: you cannot change this."),
                        code="role_above_yours")
    return role


def _grant_expiry(value) -> datetime | None:
    expires_at = _expiry(value)
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput(gettext("The expiry must be in the future."), code="invalid_expires_at")
    return expires_at


def _share_details(share: InternalShare) -> dict:
    whom = ({"user_id": share.user_id, "with": share.user.get_username()} if share.user_id else
            {"group_id": share.group_id, "group": share.group.name, "with": share.group.name})
    return {**whom, "role": share.role, "expires_at": share.expires_at.isoformat() if share.expires_at else None}


@transaction.atomic
def internal_share_create(*, actor, node_id, user=None, group=None, role, expires_at=None) -> InternalShare:
    """Members with share.create (editors and up) give a file or folder to a
    colleague or a group, as viewer or editor (editor only if they may write
    it themselves), maybe until ``expires_at``. Not the space's root: add
    members to the space for that."""
    located = locate_node(actor, node_id, Cap.SHARE_CREATE)
    node = located.node
    refuse_archived(located.space)
    if node.is_root:
        raise InvalidInput(gettext("To share a whole space, add the person or group to its members."),
                           code="root_folder")
    user, group = _recipient(user, group)
    if user is not None and user.pk == actor.pk:
        raise InvalidInput(gettext("You cannot share with yourself."), code="invalid_recipient")
    role = _grant_role(role, sharer_can_write=located.can(Cap.FILE_WRITE))
    existing = InternalShare.objects.filter(node=node, revoked_at__isnull=True, user=user, group=group)
    if existing.exists():
        raise Conflict(gettext("This is already shared with %(name)s; change or remove that share instead.")
                       % {"name": user.get_username() if user else group.name}, code="already_shared")
    share = InternalShare.objects.create(node=node, space=located.space, user=user, group=group, role=role,
                                         expires_at=_grant_expiry(expires_at), created_by=actor)
    record(action=Action.NODE_SHARED, actor=actor, target=node, target_label=located.path, space=located.space,
           details=_share_details(share))
    return share


@transaction.atomic
def internal_share_change(*, actor, share_id, role=UNSET, expires_at=UNSET) -> InternalShare:
    """The sharer, a space manager or an administrator changes the role or the expiry of a share."""
    share = access_internal_share(actor, share_id, lock=True)
    if role is UNSET and expires_at is UNSET:
        raise InvalidInput(gettext("Nothing to change."), code="no_changes")
    if role is not UNSET:
        share.role = _grant_role(role, sharer_can_write=can(actor, Cap.FILE_WRITE, share.space))
    if expires_at is not UNSET:
        share.expires_at = _grant_expiry(expires_at)
    share.save(update_fields=["role", "expires_at"])
    record(action=Action.NODE_SHARE_CHANGED, actor=actor, target=share.node, target_label=path_label(share.node),
           space=share.space, details=_share_details(share))
    return share


@transaction.atomic
def internal_share_revoke(*, actor, share_id) -> InternalShare:
    """The sharer, a space manager or an administrator ends a share; it stops at once. The system
    (actor=None) does when it disables the sharer's account."""
    if actor is None:
        share = (InternalShare.objects.select_for_update(of=("self",))
                 .select_related("node", "space", "user", "group").get(pk=share_id))
    else:
        share = access_internal_share(actor, share_id, lock=True)
    if share.revoked_at is not None:
        return share
    share.revoked_at = timezone.now()
    share.save(update_fields=["revoked_at"])
    record(action=Action.NODE_UNSHARED, actor=actor, target=share.node, target_label=path_label(share.node),
           space=share.space, details=_share_details(share))
    return share
