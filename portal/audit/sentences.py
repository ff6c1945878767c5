"""One readable sentence per audit event, for the admin list and detail page:
"alice downloaded /Finance/Q3.xlsx via link 7 on /Finance/Q3.xlsx".

One template per action; families (the part before the dot) share a
fallback, and anything unknown reads "alice: thing.happened on target".
Templates use the event's labels and details only, never a query.
"""

from __future__ import annotations

import re
from string import Formatter

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _l

from portal.audit.actions import Action
from portal.audit.models import AuditEvent, Outcome

_TEMPLATES: dict[str, str] = {
    # Sign-in and accounts
    Action.LOGIN: _l("{actor} signed in"),
    Action.LOGIN_FAILED: _l("a sign-in as {actor} failed"),
    Action.LOGIN_THROTTLED: _l("sign-ins as {actor} were throttled"),
    Action.LOGOUT: _l("{actor} signed out"),
    "auth.two_factor_enabled": _l("{actor} turned on two-factor sign-in"),
    "auth.two_factor_disabled": _l("{actor} turned off two-factor sign-in"),
    Action.USER_CREATED: _l("{actor} created the account {target}"),
    Action.USER_DISABLED: _l("{actor} disabled the account {target}"),
    Action.TIME_ZONE_CHANGED: _l("{actor} set their time zone to {to}"),
    Action.TOKEN_ISSUED: _l("{actor} issued the access token {target}"),
    Action.TOKEN_REVOKED: _l("{actor} revoked the access token {target}"),
    Action.TOKEN_REJECTED: _l("the access token {target} was refused ({reason})"),
    # Spaces and members
    Action.SPACE_CREATED: _l("{actor} created the space {target}"),
    Action.SPACE_RENAMED: _l("{actor} renamed the space {from} to {to}"),
    Action.SPACE_ARCHIVED: _l("{actor} archived the space {target}"),
    Action.SPACE_UNARCHIVED: _l("{actor} unarchived the space {target}"),
    Action.SPACE_QUOTA_CHANGED: _l("{actor} changed the quota of {target} from {from} to {to}"),
    Action.SPACE_POLICY_CHANGED: _l("{actor} changed the policies of the space {target}"),
    Action.MEMBER_ADDED: _l("{actor} added {target} to {space} as {role}"),
    Action.MEMBER_REMOVED: _l("{actor} removed {target} from {space}"),
    Action.MEMBER_ROLE_CHANGED: _l("{actor} made {target} {to} (was {from}) in {space}"),
    # Files
    Action.FOLDER_CREATED: _l("{actor} created the folder {target}"),
    Action.FILE_UPLOADED: _l("{actor} uploaded {target}"),
    Action.FILE_DOWNLOADED: _l("{actor} downloaded {target}"),
    Action.FILE_ZIP_DOWNLOADED: _l("{actor} downloaded {target} as a zip"),
    Action.FILE_VIEWED: _l("{actor} opened {target} in the viewer"),
    Action.FILE_VIEWED: _l("{actor} opened {target} in the viewer"),
    Action.FILE_STARRED: _l("{actor} starred {target}"),
    Action.FILE_UNSTARRED: _l("{actor} removed the star from {target}"),
    Action.FILE_RENAMED: _l("{actor} renamed {target}"),
    Action.FILE_MOVED: _l("{actor} moved {target}"),
    Action.FILE_COPIED: _l("{actor} copied {target}"),
    Action.FILE_DELETED: _l("{actor} moved {target} to the trash"),
    Action.FILE_RESTORED: _l("{actor} restored {target} from the trash"),
    Action.FILE_PURGED: _l("{actor} deleted {target} for good"),
    Action.FILE_VERSION_RESTORED: _l("{actor} restored an earlier version of {target}"),
    Action.FILE_VERSIONS_PRUNED: _l("old versions in {target} were pruned"),
    Action.FILE_INTEGRITY_FAILED: _l("the stored bytes of {target} failed their check"),
    Action.UPLOAD_ABORTED: _l("{actor} aborted the upload of {target}"),
    # Locks
    Action.LOCK_ACQUIRED: _l("{actor} locked {target}"),
    Action.LOCK_REFRESHED: _l("{actor} extended the lock on {target}"),
    Action.LOCK_RELEASED: _l("{actor} unlocked {target}"),
    Action.LOCK_BROKEN: _l("{actor} broke the lock on {target}"),
    Action.LOCK_EXPIRED: _l("the lock on {target} expired"),
    Action.LOCK_WRITE_REFUSED: _l("a lock refused {actor}'s change to {target}"),
    # Share links (the target is "link 7 on /path")
    Action.SHARE_CREATED: _l("{actor} created {target}"),
    Action.SHARE_CHANGED: _l("{actor} changed {target}"),
    Action.SHARE_ENABLED: _l("{actor} enabled {target}"),
    Action.SHARE_DISABLED: _l("{actor} disabled {target}"),
    Action.SHARE_REVOKED: _l("{actor} revoked {target}"),
    Action.SHARE_EXPIRED: _l("{target} expired"),
    Action.SHARE_VIEWED: _l("{actor} opened {path} via link {link}"),
    Action.SHARE_PREVIEWED: _l("{actor} previewed {path} via link {link}"),
    Action.SHARE_DOWNLOADED: _l("{actor} downloaded {path} via link {link}"),
    Action.SHARE_UPLOADED: _l("{actor} uploaded into {path} via link {link}"),
    Action.SHARE_UNLOCKED: _l("{actor} unlocked {target}"),
    Action.SHARE_PASSWORD_FAILED: _l("{actor} gave a wrong password for {target}"),
    Action.SHARE_CODE_SENT: _l("an access code for {target} was sent to {email}"),
    Action.SHARE_CODE_FAILED: _l("{actor} gave a wrong access code for {target}"),
    Action.SHARE_THROTTLED: _l("{actor} was throttled on {target}"),
    Action.SHARE_EXHAUSTED: _l("{target} reached its limit"),
    # Devices and backups
    Action.DEVICE_ENROLLMENT_TOKEN_CREATED: _l("{actor} made a device enrollment token for {owner}"),
    Action.DEVICE_ENROLLED: _l("{actor} enrolled the device {target}"),
    Action.DEVICE_RENAMED: _l("{actor} renamed the device {from} to {to}"),
    Action.DEVICE_REVOKED: _l("{actor} revoked the device {target}"),
    Action.DEVICE_REKEYED: _l("the device {target} received its user's backup key set"),
    Action.BACKUP_COMPLETED: _l("{target} finished a backup"),
    Action.BACKUP_FAILED: _l("a backup of {target} failed"),
    Action.BACKUP_RESTORED: _l("{actor} restored {target} from a backup"),
    Action.BACKUP_RETENTION_CHANGED: _l("{actor} changed the backup retention of {target}"),
    Action.BACKUP_RETENTION_APPLIED: _l("backup retention was applied to {target}"),
    Action.BACKUP_GC: _l("backup garbage collection ran"),
    Action.BACKUP_VERIFIED: _l("backups were verified"),
    # Content scanning (names as strings: the scanning app defines them)
    "scan.flagged": _l("the scanner flagged {target}"),
    "scan.quarantined": _l("{target} was quarantined"),
    "scan.released": _l("{actor} released {target} from quarantine"),
    "scan.deleted": _l("{actor} deleted the quarantined {target}"),
    "scan.error": _l("the scanner could not check {target}"),
    "scan.failed_open": _l("the scanner was unavailable; {target} was let through unchecked"),
    "scan.failed_closed": _l("the scanner was unavailable; {target} was refused"),
    # The log itself
    Action.AUDIT_PURGED: _l("audit events older than the retention were purged"),
    Action.AUDIT_EXPORTED: _l("{actor} exported {rows} audit events as {format}"),
}

_FAMILIES: dict[str, str] = {
    "auth": _l("{actor}: {action}"),
    "file": _l("{actor} changed {target} ({action})"),
    "folder": _l("{actor} changed the folder {target} ({action})"),
    "share": _l("{actor}: {action} on {target}"),
    "lock": _l("{actor}: {action} on {target}"),
    "space": _l("{actor} changed the space {target} ({action})"),
    "member": _l("{actor} changed the members of {space} ({action})"),
    "device": _l("{actor}: {action} for the device {target}"),
    "backup": _l("{action} for {target}"),
    "scan": _l("content scanning: {action} on {target}"),
}
_GENERIC = _l("{actor}: {action} on {target}")


# Share events name their target "link 7 on /Finance/Q3.xlsx".
_LINK_LABEL = re.compile(r"^link (\d+) on (.*)$", re.DOTALL)


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _actor(event: AuditEvent) -> str:
    if event.actor_label:
        return event.actor_label
    if event.actor_id is None:
        return gettext("the system")
    return gettext("user %(id)s") % {"id": event.actor_id}


def _size(value):
    return filesizeformat(value) if isinstance(value, int) else value


def outcome_label(outcome: str) -> str:
    return str(_OUTCOMES.get(outcome, outcome))


_OUTCOMES = {Outcome.SUCCESS: _l("success"), Outcome.FAILURE: _l("failure"), Outcome.DENIED: _l("denied")}


def _text(value) -> str:
    return "—" if value in (None, "") else str(value)


def describe(event: AuditEvent) -> str:
    """The event as a sentence; details fill the blanks a template names."""
    template = str(_TEMPLATES.get(event.action) or _FAMILIES.get(event.action.split(".", 1)[0], _GENERIC))
    details = event.details if isinstance(event.details, dict) else {}
    if event.action == Action.SPACE_QUOTA_CHANGED:  # quotas read in human units, never raw bytes
        details = {**details, **{k: _size(details.get(k)) for k in ("from", "to") if k in details}}
    names = {name for _, name, _, _ in Formatter().parse(template) if name}
    fields = _Fields({name: _text(details.get(name)) for name in names if name in details})
    link = _LINK_LABEL.match(event.target_label or "")
    fields.update(link=link[1] if link else "?", path=link[2] if link else _text(event.target_label))
    fields.update(actor=_actor(event), action=event.action, target=event.target_label or "—",
                  space=event.space.name if event.space_id and _space_loaded(event) else
                  (gettext("space %(id)s") % {"id": event.space_id} if event.space_id else "—"))
    sentence = template.format_map(fields)
    if event.outcome != Outcome.SUCCESS and event.action not in _FAILURES:
        sentence += " (%s)" % outcome_label(event.outcome)
    if event.ip:
        sentence += gettext(" from %(ip)s") % {"ip": event.ip}
    return sentence


# Actions whose sentence already says it went wrong.
_FAILURES = {Action.LOGIN_FAILED, Action.LOGIN_THROTTLED, Action.TOKEN_REJECTED, Action.LOCK_WRITE_REFUSED,
             Action.SHARE_PASSWORD_FAILED, Action.SHARE_CODE_FAILED, Action.SHARE_THROTTLED,
             Action.BACKUP_FAILED, Action.FILE_INTEGRITY_FAILED, "scan.error", "scan.failed_open",
             "scan.failed_closed"}


def _space_loaded(event: AuditEvent) -> bool:
    """Only use the space's name when it was fetched with the event
    (``select_related``); a list never pays one query per row for it."""
    return "space" in event._state.fields_cache and event.space is not None
