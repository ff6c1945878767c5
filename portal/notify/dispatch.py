"""From one audit event to the notifications it causes: who is told, and
whether they may still see the thing (re-checked now, not when it happened).

Every handler is safe to run twice: a notification is one row per
(user, key), and the key names the event (or, for "first time" kinds, the
link and the kind).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse

from portal.audit.actions import Action
from portal.audit.models import AuditEvent, Outcome
from portal.core.access import Cap, Role
from portal.core.errors import Forbidden, NotFound
from portal.files.models import Node
from portal.files.selectors import locate_node
from portal.notify.models import EmailMode, EmailPreference, Follow, Kind, Notification, QuotaAlert
from portal.people.models import GroupMember
from portal.spaces.models import Membership, Space, SpaceGroup
from portal.spaces.selectors import can
from portal.outbox.services import enqueue

User = get_user_model()

NODE_SHARED = "node.shared"  # recorded by the internal sharing service
FOLLOWED_ACTIONS = frozenset({Action.FILE_UPLOADED, Action.FILE_VERSION_RESTORED, Action.FILE_RENAMED,
                              Action.FILE_MOVED, Action.FILE_RESTORED})
QUOTA_ACTIONS = frozenset({Action.FILE_UPLOADED, Action.SHARE_UPLOADED, Action.FILE_VERSION_RESTORED})
QUOTA_WARNING = 0.9


def notify(user, *, kind: str, key: str, event: AuditEvent | None = None, params: dict | None = None,
           url: str = "") -> Notification | None:
    """One notification for ``user`` (None when they already have it, or are
    disabled); an immediate e-mail is queued once it commits."""
    if not user.is_active:
        return None
    mode = _email_mode(user, kind)
    try:
        with transaction.atomic():
            note = Notification.objects.create(
                user=user, kind=kind, key=key[:128], event=event, actor_label=event.actor_label if event else "",
                params=params or {}, url=url, email_mode=mode)
    except IntegrityError:  # already told (a second run of the same dispatch)
        return None
    if mode == EmailMode.IMMEDIATE:
        from portal.notify.tasks import send_email

        enqueue(send_email, note.pk)
    return note


def _email_mode(user, kind: str) -> str:
    if not user.email:
        return EmailMode.OFF
    pref = EmailPreference.objects.filter(user=user).first() or EmailPreference(user=user)
    return pref.mode(kind)


def may_read(user, node: Node) -> bool:
    """Whether ``user`` may read ``node`` now (a live node in a space they are
    in, or reached through an internal share: locate_node answers both)."""
    try:
        locate_node(user, node.pk, Cap.FILE_READ)
    except (NotFound, Forbidden):
        return False
    return True


def node_url(node: Node) -> str:
    if node.is_folder:
        return reverse("web:browser", args=[node.space_id])
    return reverse("web:view", args=[node.space_id, node.pk])


def _node_of(event: AuditEvent) -> Node | None:
    if event.target_type != "node" or not event.target_id.isdigit():
        return None
    return Node.objects.filter(pk=int(event.target_id)).first()


def _node_params(event: AuditEvent, node: Node) -> dict:
    return {"name": node.name, "path": event.target_label}


# --- Handlers, one per kind of event ------------------------------------------

def on_node_shared(event: AuditEvent) -> None:
    node = _node_of(event)
    if node is None:
        return
    details = event.details or {}
    if details.get("user_id"):
        users = User.objects.filter(pk=details["user_id"])
    elif details.get("group_id"):
        users = User.objects.filter(pk__in=GroupMember.objects.filter(group_id=details["group_id"]).values("user_id"))
    else:
        return
    for user in users.exclude(pk=event.actor_id or 0):
        if may_read(user, node):
            notify(user, kind=Kind.SHARED, key=f"event:{event.pk}", event=event, params=_node_params(event, node),
                   url=reverse("web:shared-with-me"))


def on_space_added(event: AuditEvent) -> None:
    space = Space.objects.filter(pk=event.space_id).first()
    if space is None:
        return
    if event.action == Action.MEMBER_ADDED:
        users = User.objects.filter(pk=int(event.target_id)) if event.target_id.isdigit() else User.objects.none()
    else:
        group_id = (event.details or {}).get("group_id")
        users = User.objects.filter(pk__in=GroupMember.objects.filter(group_id=group_id).values("user_id"))
    for user in users.exclude(pk=event.actor_id or 0):
        if can(user, Cap.SPACE_VIEW, space) and space.archived_at is None:
            notify(user, kind=Kind.SPACE_ADDED, key=f"event:{event.pk}", event=event, params={"space": space.name},
                   url=reverse("web:browser", args=[space.pk]))


def on_link_used(event: AuditEvent) -> None:
    from portal.shares.models import ShareLink

    if event.outcome != Outcome.SUCCESS or not event.target_id.isdigit():
        return
    link = ShareLink.objects.select_related("created_by", "node").filter(pk=int(event.target_id)).first()
    if link is None or link.created_by_id == event.actor_id or not may_read(link.created_by, link.node):
        return
    kind = Kind.LINK_OPENED if event.action == Action.SHARE_VIEWED else Kind.LINK_DOWNLOADED
    notify(link.created_by, kind=kind, key=f"{kind}:{link.pk}", event=event, params={"name": link.node.name},
           url=reverse("web:link", args=[link.pk]))


def on_lock_broken(event: AuditEvent) -> None:
    details = event.details or {}
    owners = (User.objects.filter(pk=details["owner_id"]) if details.get("owner_id")
              else User.objects.filter(username=details.get("owner") or ""))
    owner, node = owners.first(), _node_of(event)
    if owner is None or node is None or owner.pk == event.actor_id or not may_read(owner, node):
        return
    notify(owner, kind=Kind.LOCK_BROKEN, key=f"event:{event.pk}", event=event, params=_node_params(event, node),
           url=node_url(node))


def on_followed_changed(event: AuditEvent) -> None:
    node = _node_of(event)
    if node is None:
        return
    follows = Follow.objects.filter(node=node).exclude(user_id=event.actor_id or 0).select_related("user")
    for follow in follows:
        if may_read(follow.user, node):
            notify(follow.user, kind=Kind.FOLLOWED_CHANGED, key=f"event:{event.pk}", event=event,
                   params={**_node_params(event, node), "action": event.action}, url=node_url(node))


def space_owners(space: Space):
    via_groups = GroupMember.objects.filter(
        group_id__in=SpaceGroup.objects.filter(space=space, role=Role.OWNER).values("group_id")).values("user_id")
    direct = Membership.objects.filter(space=space, role=Role.OWNER).values("user_id")
    return User.objects.filter(is_active=True).filter(pk__in=direct) | User.objects.filter(
        is_active=True, pk__in=via_groups)


def on_quota_checked(event: AuditEvent) -> None:
    """Owners hear once when the space goes over 90 %; going back under arms it again."""
    if event.space_id is None or event.outcome != Outcome.SUCCESS:
        return
    with transaction.atomic():
        QuotaAlert.objects.get_or_create(space_id=event.space_id)
        alert = QuotaAlert.objects.select_for_update().get(space_id=event.space_id)
        space = Space.objects.get(pk=event.space_id)
        above = space.quota_bytes > 0 and space.used_bytes >= QUOTA_WARNING * space.quota_bytes
        if above == alert.above:
            return
        alert.above = above
        alert.crossings += int(above)
        alert.save(update_fields=["above", "crossings"])
        if not above:
            return
        percent = min(100, int(space.used_bytes * 100 // space.quota_bytes))
        for owner in space_owners(space).distinct():
            notify(owner, kind=Kind.QUOTA_NEARLY_FULL, key=f"quota:{space.pk}:{alert.crossings}", event=event,
                   params={"space": space.name, "percent": percent}, url=reverse("web:browser", args=[space.pk]))


def on_ransomware_suspected(event: AuditEvent) -> None:
    """The space's managers and owners and the administrators hear of a suspected
    attack (not the suspect), with a link to the restore to just before it."""
    from portal.governance.services_ransomware import restore_url

    space = Space.objects.filter(pk=event.space_id).first()
    if space is None:
        return
    details = event.details if isinstance(event.details, dict) else {}
    suspect = str(details.get("suspect", ""))
    roles = (Role.MANAGER, Role.OWNER)
    via_groups = GroupMember.objects.filter(
        group_id__in=SpaceGroup.objects.filter(space=space, role__in=roles).values("group_id")).values("user_id")
    users = User.objects.filter(is_active=True).filter(
        Q(pk__in=Membership.objects.filter(space=space, role__in=roles).values("user_id"))
        | Q(pk__in=via_groups) | Q(is_superuser=True))
    if suspect.startswith("user:") and suspect[5:].isdigit():
        users = users.exclude(pk=int(suspect[5:]))
    params = {"space": space.name, "suspect": event.target_label, "changes": details.get("changes", 0),
              "suspicious": details.get("suspicious", 0)}
    for user in users.distinct():
        notify(user, kind=Kind.RANSOMWARE_SUSPECTED, key=f"event:{event.pk}", event=event, params=params,
               url=restore_url(event))


def on_store_scrubbed(event: AuditEvent) -> None:
    """The administrators hear of a store check that flagged damaged or missing files (a later run
    finding only the same ones again says nothing: they were told)."""
    details = event.details if isinstance(event.details, dict) else {}
    if not details.get("newly_flagged"):
        return
    damaged, missing = int(details.get("mismatched") or 0), int(details.get("missing") or 0)
    for admin in User.objects.filter(is_active=True, is_superuser=True):
        notify(admin, kind=Kind.FILES_DAMAGED, key=f"event:{event.pk}", event=event,
               params={"damaged": damaged, "missing": missing}, url=reverse("tiers:page"))


HANDLERS = {
    NODE_SHARED: [on_node_shared],
    Action.MEMBER_ADDED: [on_space_added],
    Action.SPACE_GROUP_ADDED: [on_space_added],
    Action.SHARE_VIEWED: [on_link_used],
    Action.SHARE_DOWNLOADED: [on_link_used],
    Action.LOCK_BROKEN: [on_lock_broken],
    Action.GOVERNANCE_RANSOMWARE_SUSPECTED: [on_ransomware_suspected],
    Action.BLOB_SCRUBBED: [on_store_scrubbed],
}
for _action in FOLLOWED_ACTIONS:
    HANDLERS.setdefault(_action, []).append(on_followed_changed)
for _action in QUOTA_ACTIONS:
    HANDLERS.setdefault(_action, []).append(on_quota_checked)
NOTIFYING_ACTIONS = frozenset(HANDLERS)


# Failures that notify: the rest notify only of what succeeded.
NOTIFYING_FAILURES = frozenset({Action.SHARE_VIEWED, Action.SHARE_DOWNLOADED, Action.BLOB_SCRUBBED})


def notifications_for(event: AuditEvent) -> None:
    if event.outcome != Outcome.SUCCESS and event.action not in NOTIFYING_FAILURES:
        return
    for handler in HANDLERS.get(event.action, []):
        handler(event)
