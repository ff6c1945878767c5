"""One readable sentence per audit event, for the admin list and detail page:
"alice downloaded /Finance/Q3.xlsx via link 7 on /Finance/Q3.xlsx".

One template per action; families (the part before the dot) share a
fallback, and anything unknown reads "alice: thing.happened on target".
Templates use the event's labels and details only, never a query.
"""

from __future__ import annotations

import re
from string import Formatter

from portal.audit.actions import Action
from portal.audit.models import AuditEvent, Outcome

_TEMPLATES: dict[str, str] = {
    # Sign-in and accounts
    Action.LOGIN: "{actor} signed in",
    Action.LOGIN_FAILED: "a sign-in as {actor} failed",
    Action.LOGIN_THROTTLED: "sign-ins as {actor} were throttled",
    Action.LOGOUT: "{actor} signed out",
    "auth.two_factor_enabled": "{actor} turned on two-factor sign-in",
    "auth.two_factor_disabled": "{actor} turned off two-factor sign-in",
    Action.USER_CREATED: "{actor} created the account {target}",
    Action.USER_DISABLED: "{actor} disabled the account {target}",
    Action.TOKEN_ISSUED: "{actor} issued the access token {target}",
    Action.TOKEN_REVOKED: "{actor} revoked the access token {target}",
    Action.TOKEN_REJECTED: "the access token {target} was refused ({reason})",
    # Spaces and members
    Action.SPACE_CREATED: "{actor} created the space {target}",
    Action.SPACE_RENAMED: "{actor} renamed the space {from} to {to}",
    Action.SPACE_ARCHIVED: "{actor} archived the space {target}",
    Action.SPACE_UNARCHIVED: "{actor} unarchived the space {target}",
    Action.SPACE_QUOTA_CHANGED: "{actor} changed the quota of {target} from {from} to {to} bytes",
    Action.SPACE_POLICY_CHANGED: "{actor} changed the policies of the space {target}",
    Action.MEMBER_ADDED: "{actor} added {target} to {space} as {role}",
    Action.MEMBER_REMOVED: "{actor} removed {target} from {space}",
    Action.MEMBER_ROLE_CHANGED: "{actor} made {target} {to} (was {from}) in {space}",
    # Files
    Action.FOLDER_CREATED: "{actor} created the folder {target}",
    Action.FILE_UPLOADED: "{actor} uploaded {target}",
    Action.FILE_DOWNLOADED: "{actor} downloaded {target}",
    Action.FILE_ZIP_DOWNLOADED: "{actor} downloaded {target} as a zip",
    Action.FILE_RENAMED: "{actor} renamed {target}",
    Action.FILE_MOVED: "{actor} moved {target}",
    Action.FILE_COPIED: "{actor} copied {target}",
    Action.FILE_DELETED: "{actor} moved {target} to the trash",
    Action.FILE_RESTORED: "{actor} restored {target} from the trash",
    Action.FILE_PURGED: "{actor} deleted {target} for good",
    Action.FILE_VERSION_RESTORED: "{actor} restored an earlier version of {target}",
    Action.FILE_VERSIONS_PRUNED: "old versions in {target} were pruned",
    Action.FILE_INTEGRITY_FAILED: "the stored bytes of {target} failed their check",
    Action.UPLOAD_ABORTED: "{actor} aborted the upload of {target}",
    # Locks
    Action.LOCK_ACQUIRED: "{actor} locked {target}",
    Action.LOCK_REFRESHED: "{actor} extended the lock on {target}",
    Action.LOCK_RELEASED: "{actor} unlocked {target}",
    Action.LOCK_BROKEN: "{actor} broke the lock on {target}",
    Action.LOCK_EXPIRED: "the lock on {target} expired",
    Action.LOCK_WRITE_REFUSED: "a lock refused {actor}'s change to {target}",
    # Share links (the target is "link 7 on /path")
    Action.SHARE_CREATED: "{actor} created {target}",
    Action.SHARE_CHANGED: "{actor} changed {target}",
    Action.SHARE_ENABLED: "{actor} enabled {target}",
    Action.SHARE_DISABLED: "{actor} disabled {target}",
    Action.SHARE_REVOKED: "{actor} revoked {target}",
    Action.SHARE_EXPIRED: "{target} expired",
    Action.SHARE_VIEWED: "{actor} opened {path} via link {link}",
    Action.SHARE_PREVIEWED: "{actor} previewed {path} via link {link}",
    Action.SHARE_DOWNLOADED: "{actor} downloaded {path} via link {link}",
    Action.SHARE_UPLOADED: "{actor} uploaded into {path} via link {link}",
    Action.SHARE_UNLOCKED: "{actor} unlocked {target}",
    Action.SHARE_PASSWORD_FAILED: "{actor} gave a wrong password for {target}",
    Action.SHARE_CODE_SENT: "an access code for {target} was sent to {email}",
    Action.SHARE_CODE_FAILED: "{actor} gave a wrong access code for {target}",
    Action.SHARE_THROTTLED: "{actor} was throttled on {target}",
    Action.SHARE_EXHAUSTED: "{target} reached its limit",
    # Devices and backups
    Action.DEVICE_ENROLLMENT_TOKEN_CREATED: "{actor} made a device enrollment token for {owner}",
    Action.DEVICE_ENROLLED: "{actor} enrolled the device {target}",
    Action.DEVICE_RENAMED: "{actor} renamed the device {from} to {to}",
    Action.DEVICE_REVOKED: "{actor} revoked the device {target}",
    Action.DEVICE_REKEYED: "the device {target} received its user's backup key set",
    Action.BACKUP_COMPLETED: "{target} finished a backup",
    Action.BACKUP_FAILED: "a backup of {target} failed",
    Action.BACKUP_RESTORED: "{actor} restored {target} from a backup",
    Action.BACKUP_RETENTION_CHANGED: "{actor} changed the backup retention of {target}",
    Action.BACKUP_RETENTION_APPLIED: "backup retention was applied to {target}",
    Action.BACKUP_GC: "backup garbage collection ran",
    Action.BACKUP_VERIFIED: "backups were verified",
    # Content scanning (names as strings: the scanning app defines them)
    "scan.flagged": "the scanner flagged {target}",
    "scan.quarantined": "{target} was quarantined",
    "scan.released": "{actor} released {target} from quarantine",
    "scan.deleted": "{actor} deleted the quarantined {target}",
    "scan.error": "the scanner could not check {target}",
    "scan.failed_open": "the scanner was unavailable; {target} was let through unchecked",
    "scan.failed_closed": "the scanner was unavailable; {target} was refused",
    # The log itself
    Action.AUDIT_PURGED: "audit events older than the retention were purged",
    Action.AUDIT_EXPORTED: "{actor} exported {rows} audit events as {format}",
}

_FAMILIES: dict[str, str] = {
    "auth": "{actor}: {action}",
    "file": "{actor} changed {target} ({action})",
    "folder": "{actor} changed the folder {target} ({action})",
    "share": "{actor}: {action} on {target}",
    "lock": "{actor}: {action} on {target}",
    "space": "{actor} changed the space {target} ({action})",
    "member": "{actor} changed the members of {space} ({action})",
    "device": "{actor}: {action} for the device {target}",
    "backup": "{action} for {target}",
    "scan": "content scanning: {action} on {target}",
}
_GENERIC = "{actor}: {action} on {target}"


# Share events name their target "link 7 on /Finance/Q3.xlsx".
_LINK_LABEL = re.compile(r"^link (\d+) on (.*)$", re.DOTALL)


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _actor(event: AuditEvent) -> str:
    if event.actor_label:
        return event.actor_label
    return "the system" if event.actor_id is None else f"user {event.actor_id}"


def _text(value) -> str:
    return "—" if value in (None, "") else str(value)


def describe(event: AuditEvent) -> str:
    """The event as a sentence; details fill the blanks a template names."""
    template = _TEMPLATES.get(event.action) or _FAMILIES.get(event.action.split(".", 1)[0], _GENERIC)
    details = event.details if isinstance(event.details, dict) else {}
    names = {name for _, name, _, _ in Formatter().parse(template) if name}
    fields = _Fields({name: _text(details.get(name)) for name in names if name in details})
    link = _LINK_LABEL.match(event.target_label or "")
    fields.update(link=link[1] if link else "?", path=link[2] if link else _text(event.target_label))
    fields.update(actor=_actor(event), action=event.action, target=event.target_label or "—",
                  space=event.space.name if event.space_id and _space_loaded(event) else
                  (f"space {event.space_id}" if event.space_id else "—"))
    sentence = template.format_map(fields)
    if event.outcome != Outcome.SUCCESS and event.action not in _FAILURES:
        sentence += f" ({event.outcome})"
    if event.ip:
        sentence += f" from {event.ip}"
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
