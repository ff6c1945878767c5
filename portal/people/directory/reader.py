"""One read of the whole directory for a sync: every person and every group
(paged searches, so a server's size limit never cuts the list short), with
nested group memberships flattened. Reads only; any LDAP error becomes
DirectoryUnavailable before anything is written.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field

import ldap
from ldap.cidict import cidict
from ldap.controls import SimplePagedResultsControl

from portal.people.directory.config import (
    ACTIVE_DIRECTORY, AD_ACCOUNT_DISABLED, DirectoryConfig, connect, field_value, subject_of, text, unavailable,
)

logger = logging.getLogger(__name__)


@dataclass
class Person:
    dn: str
    subject: str
    username: str
    fields: dict  # user field -> value ("" when the entry has none)
    disabled: bool = False


@dataclass
class DirectoryGroup:
    dn: str
    subject: str
    name: str
    member_dns: set[str] = field(default_factory=set)


@dataclass
class Directory:
    people: dict[str, Person]  # by subject
    groups: dict[str, DirectoryGroup]  # by subject
    members: dict[str, set[str]]  # group subject -> subjects of its people, nested groups included
    required: set[str] | None = None  # the required group's people (None: none required)
    skipped: list[str] = field(default_factory=list)  # entries without a usable login name


def paged_search(conn, base: str, filterstr: str, attrs: list[str], page_size: int):
    """(dn, attributes) of every entry under ``base`` matching ``filterstr``."""
    control = SimplePagedResultsControl(True, size=page_size, cookie="")
    while True:
        msgid = conn.search_ext(base, ldap.SCOPE_SUBTREE, filterstr, attrs, serverctrls=[control])
        _, entries, _, controls = conn.result3(msgid)
        for dn, entry in entries:
            if dn is not None:  # a referral
                yield dn, cidict(entry)
        cookies = [c.cookie for c in controls if c.controlType == SimplePagedResultsControl.controlType]
        if not cookies or not cookies[0]:
            return
        control.cookie = cookies[0]


def _first(entry, attr: str) -> str:
    values = entry.get(attr) or []
    return text(values[0]).strip() if values else ""


def _person(dn: str, entry, config: DirectoryConfig, disabled_dns: set[str]) -> Person | None:
    username = _first(entry, config.login_attr)
    if not username:
        return None
    fields = {name: field_value(name, entry.get(attr)) for name, attr in config.attr_map.items()}
    disabled = dn.lower() in disabled_dns
    if config.kind == ACTIVE_DIRECTORY:
        control = _first(entry, "userAccountControl")
        disabled = disabled or (control.isdigit() and bool(int(control) & AD_ACCOUNT_DISABLED))
    return Person(dn=dn.lower(), subject=subject_of(dn, entry, config), username=username, fields=fields,
                  disabled=disabled)


def _people(conn, config: DirectoryConfig) -> tuple[dict[str, Person], list[str]]:
    disabled_dns = set()
    if config.disabled_filter:
        filterstr = f"(&{config.user_filter}{config.disabled_filter})"
        disabled_dns = {dn.lower() for dn, _ in paged_search(conn, config.user_base, filterstr, ["1.1"],
                                                              config.page_size)}
    people, skipped = {}, []
    for dn, entry in paged_search(conn, config.user_base, config.user_filter, config.user_attrs, config.page_size):
        person = _person(dn, entry, config, disabled_dns)
        if person is None:
            skipped.append(dn)
        else:
            people[person.subject] = person
    return people, skipped


def _groups(conn, config: DirectoryConfig) -> dict[str, DirectoryGroup]:
    groups = {}
    for dn, entry in paged_search(conn, config.group_base, config.group_filter, config.group_attrs,
                                  config.page_size):
        name = _first(entry, config.group_name_attr) or dn.split(",", 1)[0].partition("=")[2]
        group = DirectoryGroup(dn=dn.lower(), subject=subject_of(dn, entry, config), name=name,
                               member_dns={text(v).lower() for v in entry.get(config.member_attr) or []})
        groups[group.subject] = group
    return groups


def flatten(groups: dict[str, DirectoryGroup], people: dict[str, Person], *, nested: bool) -> dict[str, set[str]]:
    """Each group's people: its direct members, and (``nested``) the people
    of the groups in it, however deep; a cycle just ends the walk."""
    person_by_dn = {p.dn: p.subject for p in people.values()}
    group_by_dn = {g.dn: g.subject for g in groups.values()}
    direct = {s: {person_by_dn[dn] for dn in g.member_dns if dn in person_by_dn} for s, g in groups.items()}
    if not nested:
        return direct
    inner = {s: {group_by_dn[dn] for dn in g.member_dns if dn in group_by_dn} for s, g in groups.items()}
    members = {}
    for subject in groups:
        seen, todo = {subject}, [subject]
        while todo:
            for child in inner[todo.pop()] - seen:
                seen.add(child)
                todo.append(child)
        members[subject] = set().union(*(direct[s] for s in seen))
    return members


def _required_people(conn, config: DirectoryConfig, groups, people, members) -> set[str] | None:
    """The people of the required group (None: no group is required)."""
    if not config.require_group:
        return None
    for group in groups.values():
        if group.dn == config.require_group:
            return members[group.subject]
    extra = _required_group(conn, config)  # outside the mirrored groups' base
    flat = flatten({**groups, **extra}, people, nested=config.nested_groups)
    return set().union(*(flat[s] for s in extra))


def read(config: DirectoryConfig) -> Directory:
    """The whole directory; DirectoryUnavailable on any LDAP error."""
    conn = connect(config)
    try:
        people, skipped = _people(conn, config)
        groups = _groups(conn, config) if config.groups_enabled else {}
        members = flatten(groups, people, nested=config.nested_groups)
        required = _required_people(conn, config, groups, people, members)
    except ldap.LDAPError as exc:
        raise unavailable(config, exc) from None
    finally:
        with contextlib.suppress(ldap.LDAPError):
            conn.unbind_s()
    if skipped:
        logger.warning("LDAP sync: %d entries have no %s and were left out", len(skipped), config.login_attr)
    return Directory(people=people, groups=groups, members=members, skipped=skipped, required=required)


def _required_group(conn, config: DirectoryConfig) -> dict[str, DirectoryGroup]:
    """The required group when it lies outside the mirrored groups' base (its
    nested groups are then not followed)."""
    try:
        entries = conn.search_s(config.require_group, ldap.SCOPE_BASE, "(objectClass=*)", config.group_attrs)
    except ldap.NO_SUCH_OBJECT:
        return {}
    groups = {}
    for dn, entry in entries:
        entry = cidict(entry)
        group = DirectoryGroup(dn=dn.lower(), subject=subject_of(dn, entry, config), name=_first(entry, "cn"),
                               member_dns={text(v).lower() for v in entry.get(config.member_attr) or []})
        groups[group.subject] = group
    return groups
