"""The full sync's steps, after the directory was read: the accounts as
they are (one query), the differences worked out in memory, and the changes
written in batches (``bulk``), each batch one transaction.

Order: refuse a directory that looks empty (a wrong base DN must not disable
everyone), create and link accounts, update attributes, enable and disable,
then groups and their members (people the directory left are no one's
members any more). Groups gone from the directory are deleted here too
(docs/ldap.md: their space roles go with them).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field

from django.db import transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext

from portal.accounts.models import User
from portal.accounts.services import user_disable
from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.audit.services import record
from portal.core.errors import PortalError
from portal.core.validation import clean_label
from portal.people.directory import bulk
from portal.people.directory.config import SYSTEM_LABEL, DirectoryConfig, DirectoryUnavailable
from portal.people.directory.reader import Directory, Person
from portal.people.models import ExternalIdentity, Group, GroupMember, GroupSource
from portal.people.services import group_delete, group_ensure

logger = logging.getLogger(__name__)

CHUNK = 1000
MEMBER_CHUNK = 5000
LDAP = GroupSource.LDAP


class DirectoryEmpty(DirectoryUnavailable):
    code = "directory_empty"


@dataclass
class SyncReport:
    people: int = 0
    groups: int = 0
    created: int = 0
    linked: int = 0
    updated: int = 0
    enabled: int = 0
    disabled: int = 0
    conflicts: list[str] = field(default_factory=list)
    groups_created: int = 0
    groups_renamed: int = 0
    groups_deleted: int = 0
    members_added: int = 0
    members_removed: int = 0
    seconds: float = 0.0
    steps: dict = field(default_factory=dict)  # seconds each step took

    def as_details(self) -> dict:
        details = asdict(self)
        details["conflicts"] = self.conflicts[:20]  # names, a sample; the count says how many
        details["conflict_count"] = len(self.conflicts)
        return details


@dataclass
class Account:
    user_id: int
    username: str
    is_active: bool
    fields: dict


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def accounts_load(config: DirectoryConfig) -> dict[str, Account]:
    """Every account linked to a directory entry, by the entry's subject."""
    names = list(config.attr_map)
    rows = ExternalIdentity.objects.filter(source=LDAP).values_list(
        "subject", "user_id", "user__username", "user__is_active", *[f"user__{n}" for n in names])
    return {row[0]: Account(row[1], row[2], row[3], dict(zip(names, row[4:], strict=True))) for row in rows}


def _refuse_empty(config: DirectoryConfig, directory: Directory, in_scope: dict, accounts: dict) -> None:
    active = sum(1 for a in accounts.values() if a.is_active)
    if not in_scope and active:
        raise DirectoryEmpty(
            gettext("The LDAP directory returned nobody under %(base)s; %(count)d accounts would be disabled, so "
                    "nothing was changed. Check PORTAL_LDAP_USER_BASE, PORTAL_LDAP_USER_FILTER and "
                    "PORTAL_LDAP_REQUIRE_GROUP.") % {"base": config.user_base, "count": active})
    if config.groups_enabled and not directory.groups and Group.objects.filter(source=LDAP).exists():
        raise DirectoryEmpty(
            gettext("The LDAP directory returned no group under %(base)s, so no mirrored group was deleted and "
                    "nothing was changed. Check PORTAL_LDAP_GROUP_BASE and PORTAL_LDAP_GROUP_FILTER.")
            % {"base": config.group_base})


def sync_apply(config: DirectoryConfig, directory: Directory) -> SyncReport:
    accounts = accounts_load(config)
    in_scope = {s: p for s, p in directory.people.items() if directory.required is None or s in directory.required}
    _refuse_empty(config, directory, in_scope, accounts)
    report = SyncReport(people=len(in_scope), groups=len(directory.groups))
    steps = [("accounts", lambda: _link_or_create(config, in_scope, accounts, report)),
             ("attributes", lambda: _update(in_scope, accounts, report)),
             ("enable", lambda: _enable(in_scope, accounts, report)),
             ("disable", lambda: _disable(in_scope, accounts, report))]
    if config.groups_enabled:
        groups = {}
        steps += [("groups", lambda: groups.update(_groups(directory, report))),
                  ("members", lambda: _memberships(directory, in_scope, accounts, groups, report))]
    for name, step in steps:
        started = time.perf_counter()
        step()
        report.steps[name] = round(time.perf_counter() - started, 3)
    return report


def _unlinked(config, in_scope, accounts, report) -> tuple[list[Person], list[tuple[Person, User]]]:
    """New people to create, and people to link to the existing account of their name."""
    unlinked = [p for s, p in in_scope.items() if s not in accounts]
    names = {p.username.lower() for p in unlinked}
    by_name = {u.username.lower(): u for u in User.objects.annotate(lname=Lower("username")).filter(lname__in=names)}
    taken = set(ExternalIdentity.objects.filter(source=LDAP, user__in=by_name.values()).values_list("user_id",
                                                                                                   flat=True))
    create, link, seen = [], [], set()
    for person in sorted(unlinked, key=lambda p: p.dn):
        key = person.username.lower()
        user = by_name.get(key)
        if key in seen or (user is not None and (user.pk in taken or not (
                config.adopt_local_users or not user.has_usable_password()))):
            report.conflicts.append(person.username)  # a local account, or two entries, of that name
        elif user is not None:
            link.append((person, user))
        elif not person.disabled:
            create.append(person)
        seen.add(key)
    return create, link


def _link_or_create(config, in_scope, accounts, report) -> None:
    create, link = _unlinked(config, in_scope, accounts, report)
    if link:
        with transaction.atomic():
            ExternalIdentity.objects.bulk_create([ExternalIdentity(user=u, source=LDAP, subject=p.subject)
                                                  for p, u in link])
            bulk.events_write([{"action": Action.DIRECTORY_USER_LINKED, "target": u,
                                "details": {"subject": p.subject, "dn": p.dn}} for p, u in link])
        for person, user in link:
            accounts[person.subject] = Account(user.pk, user.username, user.is_active,
                                               {n: getattr(user, n) for n in config.attr_map})
        report.linked = len(link)
    slugs = bulk.SlugPicker() if create else None
    for chunk in _chunks(create, CHUNK):
        with transaction.atomic():
            users = bulk.users_create(chunk, slugs=slugs)
        for person, user in zip(chunk, users):
            accounts[person.subject] = Account(user.pk, user.username, True, dict(person.fields))
        report.created += len(chunk)


def _update(in_scope, accounts, report) -> None:
    changes = []
    for subject, person in in_scope.items():
        account = accounts.get(subject)
        if account is None:
            continue
        fields = sorted(n for n, v in person.fields.items() if account.fields.get(n) != v)
        rename = person.username if person.username != account.username else None
        if fields or rename:
            changes.append((account, person, fields, rename))
    free = _free_names({r.lower() for _, _, _, r in changes if r})
    for chunk in _chunks(changes, CHUNK):
        with transaction.atomic():
            report.updated += _update_batch(chunk, free, report)


def _free_names(names: set[str]) -> set[str]:
    taken = set(User.objects.annotate(lname=Lower("username")).filter(lname__in=names).values_list("lname", flat=True))
    return names - taken


def _update_batch(chunk, free: set[str], report) -> int:
    users = User.objects.in_bulk([account.user_id for account, *_ in chunk])
    changed, rows, columns = [], [], set()
    for account, person, fields, rename in chunk:
        user, details = users[account.user_id], {}
        for name in fields:
            setattr(user, name, person.fields[name])
        if rename and rename.lower() in free:
            free.discard(rename.lower())
            details.update({"from": user.username, "to": rename})
            user.username = rename
            fields = [*fields, "username"]
        elif rename and rename.lower() != account.username.lower():
            report.conflicts.append(rename)
        if fields:
            changed.append(user)
            columns.update(fields)
            rows.append({"action": Action.DIRECTORY_USER_UPDATED, "target": user,
                         "details": {"fields": ", ".join(fields), **details}})
    if changed:
        User.objects.bulk_update(changed, sorted(columns), batch_size=500)
        bulk.events_write(rows)
    return len(changed)


def _disabled_by_directory(user_ids: list[int]) -> set[int]:
    """Of ``user_ids``, those whose last disabling was the directory's."""
    found = set()
    for user_id in user_ids:
        last = (AuditEvent.objects.filter(action=Action.USER_DISABLED, target_type="user", target_id=str(user_id))
                .order_by("-id").values_list("actor_id", "actor_label").first())
        if last is not None and last[0] is None and last[1] == SYSTEM_LABEL:
            found.add(user_id)
    return found


def _enable(in_scope, accounts, report) -> None:
    """Accounts the directory disabled come back when the entry is active
    again; an administrator's disabling stays."""
    waiting = [accounts[s].user_id for s, p in in_scope.items()
               if s in accounts and not p.disabled and not accounts[s].is_active]
    enabled = set()
    for user_id in sorted(_disabled_by_directory(waiting)):
        with transaction.atomic():
            if User.objects.filter(pk=user_id, is_active=False).update(is_active=True):
                record(action=Action.USER_ENABLED, actor=None, target=User.objects.get(pk=user_id),
                       details={"source": LDAP})
                enabled.add(user_id)
    for account in accounts.values():
        account.is_active = account.is_active or account.user_id in enabled
    report.enabled = len(enabled)


def _disable(in_scope, accounts, report) -> None:
    """Accounts gone from the directory (or out of the required group), or
    disabled there: user_disable ends their sessions, tokens, app passwords,
    devices and links."""
    for subject, account in sorted(accounts.items(), key=lambda item: item[1].user_id):
        person = in_scope.get(subject)
        if account.is_active and (person is None or person.disabled):
            user_disable(actor=None, user_id=account.user_id)
            account.is_active = False
            report.disabled += 1


def _new_group_name(name: str, taken: set[str]) -> str | None:
    """As group_ensure names a new mirrored group: its own name, or
    "name (ldap)" when a group already has it; None when neither can be."""
    try:
        name = clean_label(name, field="name", max_length=150)
    except PortalError:
        return None
    if name.lower() in taken:
        name = f"{name} ({LDAP})"
    return None if name.lower() in taken or len(name) > 150 else name


def _groups(directory: Directory, report) -> dict[str, Group]:
    """The mirrored group of each directory group: new ones created in bulk,
    renamed ones through group_ensure; mirrored groups the directory no
    longer has are deleted (group_delete)."""
    existing = {g.external_id: g for g in Group.objects.filter(source=LDAP)}
    taken = {name.lower() for name in Group.objects.values_list("name", flat=True)}
    groups, new = {}, []
    for subject, found in sorted(directory.groups.items(), key=lambda item: item[1].dn):
        group = existing.get(subject)
        if group is None:
            name = _new_group_name(found.name, taken)
            if name is None:
                report.conflicts.append(found.name)
                continue
            taken.add(name.lower())
            new.append((subject, Group(name=name, source=LDAP, external_id=subject)))
        elif group.name != found.name:
            try:
                groups[subject] = group_ensure(actor=None, source=LDAP, external_id=subject, name=found.name)
            except PortalError as exc:  # a name no group may have
                logger.warning("LDAP sync: group %s not renamed: %s", found.dn, exc)
                groups[subject] = group
            report.groups_renamed += groups[subject].name != group.name
        else:
            groups[subject] = group
    if new:
        with transaction.atomic():
            bulk.groups_create([group for _, group in new])
        groups.update(new)
        report.groups_created = len(new)
    for external_id, group in sorted(existing.items(), key=lambda item: item[1].pk):
        if external_id not in directory.groups:
            group_delete(actor=None, group=group)
            report.groups_deleted += 1
    return groups


def _memberships(directory, in_scope, accounts, groups, report) -> None:
    user_of = {s: accounts[s].user_id for s in in_scope if s in accounts}
    wanted = {(groups[g].pk, user_of[p]) for g, people in directory.members.items() if g in groups
              for p in people if p in user_of}
    current = set(GroupMember.objects.filter(group__source=LDAP).values_list("group_id", "user_id"))
    added, removed = sorted(wanted - current), sorted(current - wanted)
    if not (added or removed):
        return
    by_id = {g.pk: g for g in groups.values()}
    by_id.update({g.pk: g for g in Group.objects.filter(pk__in={g for g, _ in removed} - set(by_id))})
    labels = dict(User.objects.filter(pk__in={u for _, u in added + removed}).values_list("pk", "username"))
    for chunk in _chunks(added, MEMBER_CHUNK):
        with transaction.atomic():
            bulk.members_add(chunk, groups=by_id, labels=labels)
    for chunk in _chunks(removed, MEMBER_CHUNK):
        with transaction.atomic():
            bulk.members_remove(chunk, groups=by_id, labels=labels)
    report.members_added, report.members_removed = len(added), len(removed)
