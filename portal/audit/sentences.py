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
from django.utils.translation import gettext_lazy

from portal.audit.actions import Action
from portal.core.access import Role
from portal.audit.models import AuditEvent, Outcome

_TEMPLATES: dict[str, str] = {
    # Sign-in and accounts
    Action.LOGIN: gettext_lazy("{actor} signed in"),
    Action.LOGIN_FAILED: gettext_lazy("a sign-in as {actor} failed"),
    Action.LOGIN_THROTTLED: gettext_lazy("sign-ins as {actor} were throttled"),
    Action.LOGOUT: gettext_lazy("{actor} signed out"),
    "auth.two_factor_enabled": gettext_lazy("{actor} turned on two-factor sign-in"),
    "auth.two_factor_disabled": gettext_lazy("{actor} turned off two-factor sign-in"),
    Action.USER_CREATED: gettext_lazy("{actor} created the account {target}"),
    Action.USER_DISABLED: gettext_lazy("{actor} disabled the account {target}"),
    Action.SCIM_USER_UPDATED: gettext_lazy("{actor} updated the account {target} ({fields})"),
    Action.SCIM_TOKEN_CREATED: gettext_lazy("{actor} created the SCIM provisioning token {target}"),
    Action.SCIM_TOKEN_REVOKED: gettext_lazy("{actor} revoked the SCIM provisioning token {target}"),
    Action.USER_ENABLED: gettext_lazy("{actor} enabled the account {target} again"),
    Action.USER_SSO_LINKED: gettext_lazy("single sign-on linked the account {target} to the identity {subject}"),
    Action.USER_SSO_UPDATED: gettext_lazy("single sign-on updated the account {target} ({fields})"),
    Action.SITE_SETTINGS_CHANGED: gettext_lazy("{actor} changed the site settings"),
    Action.TIME_ZONE_CHANGED: gettext_lazy("{actor} set their time zone to {to}"),
    Action.PROFILE_CHANGED: gettext_lazy("{actor} changed their profile"),
    Action.USER_STAFF_CHANGED: gettext_lazy("{actor} changed whether {target} is an administrator"),
    Action.USER_TWO_FACTOR_RESET: gettext_lazy("{actor} reset two-factor sign-in of {target}"),
    Action.USER_PASSWORD_RESET_SENT: gettext_lazy("{actor} sent {target} a link to set a password"),
    Action.PASSWORD_RESET_REQUESTED: gettext_lazy("a password reset link was sent to {target}"),
    Action.PASSWORD_RESET_DONE: gettext_lazy("{actor} set a new password with a reset link"),
    Action.INVITATION_CREATED: gettext_lazy("{actor} invited {target}"),
    Action.INVITATION_REVOKED: gettext_lazy("{actor} revoked the invitation of {target}"),
    Action.INVITATION_ACCEPTED: gettext_lazy("{actor} accepted the invitation sent to {target}"),
    Action.TOKEN_ISSUED: gettext_lazy("{actor} issued the access token {target}"),
    Action.TOKEN_REVOKED: gettext_lazy("{actor} revoked the access token {target}"),
    Action.TOKEN_REJECTED: gettext_lazy("the access token {target} was refused ({reason})"),
    # Spaces and members
    Action.SPACE_CREATED: gettext_lazy("{actor} created the space {target}"),
    Action.SPACE_RENAMED: gettext_lazy("{actor} renamed the space {from} to {to}"),
    Action.SPACE_ARCHIVED: gettext_lazy("{actor} archived the space {target}"),
    Action.SPACE_UNARCHIVED: gettext_lazy("{actor} unarchived the space {target}"),
    Action.SPACE_TRASHED: gettext_lazy("{actor} moved the space {target} to the trash"),
    Action.SPACE_RESTORED: gettext_lazy("{actor} restored the space {target} from the trash"),
    Action.SPACE_QUOTA_CHANGED: gettext_lazy("{actor} changed the quota of {target} from {from} to {to}"),
    Action.SPACE_POLICY_CHANGED: gettext_lazy("{actor} changed the policies of the space {target}"),
    Action.MEMBER_ADDED: gettext_lazy("{actor} added {target} to {space} as {role}"),
    Action.MEMBER_REMOVED: gettext_lazy("{actor} removed {target} from {space}"),
    Action.MEMBER_ROLE_CHANGED: gettext_lazy("{actor} made {target} {to} (was {from}) in {space}"),
    Action.SPACE_GROUP_ADDED: gettext_lazy("{actor} gave the group {group} the role {role} in {space}"),
    Action.SPACE_GROUP_REMOVED: gettext_lazy("{actor} removed the group {group} from {space}"),
    Action.SPACE_GROUP_ROLE_CHANGED: gettext_lazy("{actor} made the group {group} {to} (was {from}) in {space}"),
    # Groups
    Action.GROUP_CREATED: gettext_lazy("{actor} created the group {target}"),
    Action.GROUP_RENAMED: gettext_lazy("{actor} renamed the group {from} to {to}"),
    Action.GROUP_DELETED: gettext_lazy("{actor} deleted the group {target}"),
    Action.GROUP_MEMBER_ADDED: gettext_lazy("{actor} added {target} to the group {group}"),
    Action.GROUP_MEMBER_REMOVED: gettext_lazy("{actor} removed {target} from the group {group}"),
    Action.DIRECTORY_SYNCED: gettext_lazy("{actor} synchronised the accounts with the LDAP directory: {created} new, "
                                          "{updated} updated, {disabled} disabled, {enabled} enabled again"),
    Action.DIRECTORY_USER_LINKED: gettext_lazy("{actor} linked the account {target} to the LDAP entry {dn}"),
    Action.DIRECTORY_USER_UPDATED: gettext_lazy("{actor} updated the account {target} from the LDAP directory "
                                                "({fields})"),
    # Files
    Action.FOLDER_CREATED: gettext_lazy("{actor} created the folder {target}"),
    Action.FILE_UPLOADED: gettext_lazy("{actor} uploaded {target}"),
    Action.FILE_DOWNLOADED: gettext_lazy("{actor} downloaded {target}"),
    Action.FILE_ZIP_DOWNLOADED: gettext_lazy("{actor} downloaded {target} as a zip"),
    Action.FILE_VIEWED: gettext_lazy("{actor} opened {target} in the viewer"),
    Action.FILE_STARRED: gettext_lazy("{actor} starred {target}"),
    Action.FILE_UNSTARRED: gettext_lazy("{actor} removed the star from {target}"),
    Action.FILE_RENAMED: gettext_lazy("{actor} renamed {target}"),
    Action.FILE_MOVED: gettext_lazy("{actor} moved {target}"),
    Action.FILE_COPIED: gettext_lazy("{actor} copied {target}"),
    Action.FILE_DELETED: gettext_lazy("{actor} moved {target} to the trash"),
    Action.FILE_RESTORED: gettext_lazy("{actor} restored {target} from the trash"),
    Action.FILE_PURGED: gettext_lazy("{actor} deleted {target} for good"),
    Action.FILE_VERSION_RESTORED: gettext_lazy("{actor} restored an earlier version of {target}"),
    Action.FILE_VERSIONS_PRUNED: gettext_lazy("old versions in {target} were pruned"),
    Action.FILE_INTEGRITY_FAILED: gettext_lazy("the stored bytes of {target} failed their check"),
    Action.SPACE_RESTORED_TO_POINT: gettext_lazy("{actor} restored the space {target} to its state at {at} "
                                                 "({changed} changes, {skipped} skipped)"),
    Action.FOLDER_RESTORED_TO_POINT: gettext_lazy("{actor} restored the folder {target} to its state at {at} "
                                                  "({changed} changes, {skipped} skipped)"),
    Action.UPLOAD_ABORTED: gettext_lazy("{actor} aborted the upload of {target}"),
    # Storage lifecycle
    Action.BLOB_TIERED: gettext_lazy("stored bytes were moved between storage tiers"),
    Action.BLOB_RESTORE_REQUESTED: gettext_lazy("{actor} asked for {target} to be restored from archive storage"),
    Action.BLOB_RESTORED: gettext_lazy("{target} was restored from archive storage"),
    Action.BLOB_SCRUBBED: gettext_lazy("stored files were read back and checked: {checked} checked, {mismatched} damaged, {missing} missing"),
    Action.CONTAINER_COMPACTED: gettext_lazy("cold storage containers were compacted"),
    Action.SPACE_TIER_POLICY_CHANGED: gettext_lazy("{actor} changed the storage tiering of {space}"),
    # Locks
    Action.LOCK_ACQUIRED: gettext_lazy("{actor} locked {target}"),
    Action.LOCK_REFRESHED: gettext_lazy("{actor} extended the lock on {target}"),
    Action.LOCK_RELEASED: gettext_lazy("{actor} unlocked {target}"),
    Action.LOCK_BROKEN: gettext_lazy("{actor} broke the lock on {target}"),
    Action.LOCK_EXPIRED: gettext_lazy("the lock on {target} expired"),
    Action.LOCK_WRITE_REFUSED: gettext_lazy("a lock refused {actor}'s change to {target}"),
    # Co-editing and office documents (WOPI)
    Action.COEDIT_JOINED: gettext_lazy("{actor} joined the co-editing of {target}"),
    Action.COEDIT_LEFT: gettext_lazy("{actor} left the co-editing of {target}"),
    Action.COEDIT_SAVED: gettext_lazy("{target} was saved from co-editing by {coauthors}"),
    Action.WOPI_LOCKED: gettext_lazy("{actor} opened {target} in the office editor"),
    Action.WOPI_UNLOCKED: gettext_lazy("{actor} closed {target} in the office editor"),
    Action.WOPI_SAVED: gettext_lazy("{actor} saved {target} from the office editor"),
    Action.WOPI_TOKEN_ISSUED: gettext_lazy("{actor} was given office editor access to {target}"),
    # Share links (the target is "link 7 on /path")
    Action.SHARE_CREATED: gettext_lazy("{actor} created {target}"),
    Action.SHARE_CHANGED: gettext_lazy("{actor} changed {target}"),
    Action.SHARE_ENABLED: gettext_lazy("{actor} enabled {target}"),
    Action.SHARE_DISABLED: gettext_lazy("{actor} disabled {target}"),
    Action.SHARE_REVOKED: gettext_lazy("{actor} revoked {target}"),
    Action.SHARE_EXPIRED: gettext_lazy("{target} expired"),
    Action.SHARE_VIEWED: gettext_lazy("{actor} opened {path} via link {link}"),
    Action.SHARE_PREVIEWED: gettext_lazy("{actor} previewed {path} via link {link}"),
    Action.SHARE_DOWNLOADED: gettext_lazy("{actor} downloaded {path} via link {link}"),
    Action.SHARE_UPLOADED: gettext_lazy("{actor} uploaded into {path} via link {link}"),
    Action.SHARE_UNLOCKED: gettext_lazy("{actor} unlocked {target}"),
    Action.SHARE_PASSWORD_FAILED: gettext_lazy("{actor} gave a wrong password for {target}"),
    Action.SHARE_CODE_SENT: gettext_lazy("an access code for {target} was sent to {email}"),
    Action.SHARE_CODE_FAILED: gettext_lazy("{actor} gave a wrong access code for {target}"),
    Action.SHARE_THROTTLED: gettext_lazy("{actor} was throttled on {target}"),
    Action.SHARE_EXHAUSTED: gettext_lazy("{target} reached its limit"),
    Action.SHARE_LINK_MAILED: gettext_lazy("{target} was e-mailed to {count} people"),
    # Internal shares (the target is the shared file or folder)
    Action.NODE_SHARED: gettext_lazy("{actor} shared {target} with {with} ({role})"),
    Action.NODE_SHARE_CHANGED: gettext_lazy("{actor} changed the share of {target} with {with} ({role})"),
    Action.NODE_UNSHARED: gettext_lazy("{actor} stopped sharing {target} with {with}"),
    # Devices and backups
    Action.DEVICE_ENROLLMENT_TOKEN_CREATED: gettext_lazy("{actor} made a device enrollment token for {owner}"),
    Action.DEVICE_ENROLLED: gettext_lazy("{actor} enrolled the device {target}"),
    Action.DEVICE_RENAMED: gettext_lazy("{actor} renamed the device {from} to {to}"),
    Action.DEVICE_REVOKED: gettext_lazy("{actor} revoked the device {target}"),
    Action.DEVICE_REKEYED: gettext_lazy("the device {target} received its user's backup key set"),
    Action.BACKUP_COMPLETED: gettext_lazy("{target} finished a backup"),
    Action.BACKUP_FAILED: gettext_lazy("a backup of {target} failed"),
    Action.BACKUP_RESTORED: gettext_lazy("{actor} restored {target} from a backup"),
    Action.BACKUP_RETENTION_CHANGED: gettext_lazy("{actor} changed the backup retention of {target}"),
    Action.BACKUP_RETENTION_APPLIED: gettext_lazy("backup retention was applied to {target}"),
    Action.BACKUP_GC: gettext_lazy("backup garbage collection ran"),
    Action.BACKUP_VERIFIED: gettext_lazy("backups were verified"),
    # Content scanning (names as strings: the scanning app defines them)
    "scan.flagged": gettext_lazy("the scanner flagged {target}"),
    "scan.quarantined": gettext_lazy("{target} was quarantined"),
    "scan.released": gettext_lazy("{actor} released {target} from quarantine"),
    "scan.deleted": gettext_lazy("{actor} deleted the quarantined {target}"),
    "scan.error": gettext_lazy("the scanner could not check {target}"),
    "scan.failed_open": gettext_lazy("the scanner was unavailable; {target} was let through unchecked"),
    "scan.failed_closed": gettext_lazy("the scanner was unavailable; {target} was refused"),
    # Notifications and webhooks
    Action.FILE_FOLLOWED: gettext_lazy("{actor} followed {target}"),
    Action.FILE_UNFOLLOWED: gettext_lazy("{actor} stopped following {target}"),
    Action.NOTIFY_PREFERENCES_CHANGED: gettext_lazy("{actor} changed their e-mail notification settings"),
    Action.WEBHOOK_CREATED: gettext_lazy("{actor} added the webhook {target}"),
    Action.WEBHOOK_CHANGED: gettext_lazy("{actor} changed the webhook {target}"),
    Action.WEBHOOK_DELETED: gettext_lazy("{actor} deleted the webhook {target}"),
    Action.WEBHOOK_PINGED: gettext_lazy("{actor} sent a test ping to the webhook {target}"),
    # Imports (migration service)
    Action.IMPORT_JOB_CREATED: gettext_lazy("{actor} created the import {target}"),
    Action.IMPORT_JOB_DELETED: gettext_lazy("{actor} deleted the import {target}"),
    Action.IMPORT_STARTED: gettext_lazy("{actor} started the import {target}"),
    Action.IMPORT_FINISHED: gettext_lazy("the import {target} finished"),
    Action.IMPORT_FAILED: gettext_lazy("the import {target} failed"),
    # Governance (retention and legal holds)
    Action.GOVERNANCE_HOLD_CREATED: gettext_lazy("{actor} put {target} under a legal hold ({reason})"),
    Action.GOVERNANCE_HOLD_RELEASED: gettext_lazy("{actor} released the legal hold on {target} ({reason})"),
    Action.GOVERNANCE_RETENTION_SET: gettext_lazy("{actor} set a retention of {days} days on {target}"),
    Action.GOVERNANCE_RETENTION_CLEARED: gettext_lazy("{actor} cleared the retention on {target}"),
    Action.GOVERNANCE_RETENTION_ENDED: gettext_lazy("the retention of {target} ended for {files} file(s) (then: {end_action})"),
    Action.GOVERNANCE_REVIEW_RESOLVED: gettext_lazy("{actor} marked {target} as reviewed"),
    Action.CONTENT_LABELLED: gettext_lazy("{target} was labelled as sensitive ({names})"),
    Action.CONTENT_LABEL_APPROVED: gettext_lazy("{actor} approved {target} for external sharing"),
    Action.CONTENT_LABEL_REJECTED: gettext_lazy("{actor} rejected {target} for external sharing"),
    Action.CONTENT_RELABELLED: gettext_lazy("{actor} relabelled {target} ({names})"),
    Action.CONTENT_POLICY_SET: gettext_lazy("{actor} set the policy of the label {target} to {to}"),
    Action.CONTENT_DETECTOR_SAVED: gettext_lazy("{actor} saved the detector {target} (label {label})"),
    Action.GOVERNANCE_RANSOMWARE_SUSPECTED: gettext_lazy("ransomware suspected: {target} rewrote or renamed {changes} file(s) and made {suspicious} suspicious write(s) in this space (response: {response})"),
    # The log itself
    Action.AUDIT_PURGED: gettext_lazy("audit events older than the retention were purged"),
    Action.AUDIT_EXPORTED: gettext_lazy("{actor} exported {rows} audit events as {format}"),
}

_FAMILIES: dict[str, str] = {
    "auth": gettext_lazy("{actor}: {action}"),
    "file": gettext_lazy("{actor} changed {target} ({action})"),
    "folder": gettext_lazy("{actor} changed the folder {target} ({action})"),
    "share": gettext_lazy("{actor}: {action} on {target}"),
    "lock": gettext_lazy("{actor}: {action} on {target}"),
    "space": gettext_lazy("{actor} changed the space {target} ({action})"),
    "member": gettext_lazy("{actor} changed the members of {space} ({action})"),
    "device": gettext_lazy("{actor}: {action} for the device {target}"),
    "backup": gettext_lazy("{action} for {target}"),
    "scan": gettext_lazy("content scanning: {action} on {target}"),
}
_GENERIC = gettext_lazy("{actor}: {action} on {target}")


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


def _role(value):
    return str(Role(value).label).lower() if value in Role.values else value  # mid-sentence: "made bob editor"


def _size(value):
    return filesizeformat(value) if isinstance(value, int) else value


def outcome_label(outcome: str) -> str:
    return str(_OUTCOMES.get(outcome, outcome))


_OUTCOMES = {Outcome.SUCCESS: gettext_lazy("success"), Outcome.FAILURE: gettext_lazy("failure"), Outcome.DENIED: gettext_lazy("denied")}


def _text(value) -> str:
    return "—" if value in (None, "") else str(value)


def describe(event: AuditEvent) -> str:
    """The event as a sentence; details fill the blanks a template names."""
    template = str(_TEMPLATES.get(event.action) or _FAMILIES.get(event.action.split(".", 1)[0], _GENERIC))
    details = event.details if isinstance(event.details, dict) else {}
    if event.action == Action.SPACE_QUOTA_CHANGED:  # quotas read in human units, never raw bytes
        details = {**details, **{k: _size(details.get(k)) for k in ("from", "to") if k in details}}
    if event.action in (Action.MEMBER_ADDED, Action.MEMBER_ROLE_CHANGED,  # roles by their names
                        Action.NODE_SHARED, Action.NODE_SHARE_CHANGED):
        details = {**details, **{k: _role(details[k]) for k in ("role", "from", "to") if k in details}}
    names = {name for _, name, _, _ in Formatter().parse(template) if name}
    fields = _Fields({name: _text(details.get(name)) for name in names if name in details})
    link = _LINK_LABEL.match(event.target_label or "")
    fields.update(link=link[1] if link else "?", path=link[2] if link else _text(event.target_label))
    target = (gettext("link %(link)s on %(path)s") % {"link": link[1], "path": link[2]} if link
              else event.target_label or "—")
    fields.update(actor=_actor(event), action=event.action, target=target,
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
