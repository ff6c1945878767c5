"""The directory's settings (PORTAL_LDAP_*), with each kind's defaults, and
the one way to open a bound connection.

Two kinds: ``openldap`` (inetOrgPerson people, groupOfNames groups,
entryUUID) and ``activedirectory`` (user objects found by sAMAccountName,
group objects, objectGUID, the userAccountControl "disabled" bit). Any
setting left blank takes the kind's default.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import ldap
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext

from portal.core.errors import PortalError

# The audit events of the directory's changes name it as their actor.
SYSTEM_LABEL = "ldap"
OPENLDAP = "openldap"
ACTIVE_DIRECTORY = "activedirectory"
# userAccountControl's ACCOUNTDISABLE flag.
AD_ACCOUNT_DISABLED = 0x2

_DEFAULTS = {
    OPENLDAP: {
        "user_filter": "(objectClass=inetOrgPerson)",
        "login_attr": "uid",
        "uuid_attr": "entryUUID",
        "group_filter": "(objectClass=groupOfNames)",
        "group_type": "groupofnames",
    },
    ACTIVE_DIRECTORY: {
        "user_filter": "(&(objectCategory=person)(objectClass=user))",
        "login_attr": "sAMAccountName",
        "uuid_attr": "objectGUID",
        "group_filter": "(objectClass=group)",
        "group_type": "activedirectory",
    },
}


class DirectoryUnavailable(PortalError):
    """The directory did not answer, refused the service account, or a
    search failed: nothing was changed."""

    code = "directory_unavailable"
    status = 503


@dataclass(frozen=True)
class DirectoryConfig:
    uri: str
    kind: str
    bind_dn: str
    bind_password: str
    start_tls: bool
    user_base: str
    user_filter: str
    login_attr: str
    uuid_attr: str
    attr_map: dict = field(default_factory=dict)  # user field -> LDAP attribute
    group_base: str = ""
    group_filter: str = ""
    group_type: str = "groupofnames"
    group_name_attr: str = "cn"
    nested_groups: bool = True
    require_group: str = ""
    disabled_filter: str = ""
    adopt_local_users: bool = False
    page_size: int = 500
    timeout: int = 10

    @property
    def member_attr(self) -> str:
        return "member"

    @property
    def groups_enabled(self) -> bool:
        return bool(self.group_base)

    @property
    def user_attrs(self) -> list[str]:
        """What a read of a person asks for."""
        attrs = {self.login_attr, self.uuid_attr, *self.attr_map.values()}
        if self.kind == ACTIVE_DIRECTORY:
            attrs.add("userAccountControl")
        return sorted(a for a in attrs if a)

    @property
    def group_attrs(self) -> list[str]:
        return [self.group_name_attr, self.uuid_attr, self.member_attr]


def enabled() -> bool:
    return bool(getattr(settings, "LDAP_URI", ""))


def _user_fields() -> set[str]:
    from portal.accounts.models import User

    return {f.name for f in User._meta.get_fields()}


def load() -> DirectoryConfig:
    """The configuration as the settings say now (tests change them)."""
    if not enabled():
        raise ImproperlyConfigured("PORTAL_LDAP_URI is not set (docs/ldap.md).")
    kind = (settings.LDAP_KIND or OPENLDAP).lower()
    if kind not in _DEFAULTS:
        raise ImproperlyConfigured(f"PORTAL_LDAP_KIND={kind!r}: use {OPENLDAP!r} or {ACTIVE_DIRECTORY!r}.")
    defaults = _DEFAULTS[kind]
    if not settings.LDAP_USER_BASE:
        raise ImproperlyConfigured("PORTAL_LDAP_URI is set but PORTAL_LDAP_USER_BASE is not (docs/ldap.md).")
    attr_map = {"email": settings.LDAP_ATTR_EMAIL, "first_name": settings.LDAP_ATTR_FIRST_NAME,
                "last_name": settings.LDAP_ATTR_LAST_NAME}
    if "display_name" in _user_fields():
        attr_map["display_name"] = settings.LDAP_ATTR_DISPLAY_NAME
    group_type = (settings.LDAP_GROUP_TYPE or defaults["group_type"]).lower()
    if group_type not in {"groupofnames", "activedirectory"}:
        raise ImproperlyConfigured(f"PORTAL_LDAP_GROUP_TYPE={group_type!r}: use 'groupOfNames' or "
                                   "'activeDirectory'.")
    return DirectoryConfig(
        uri=settings.LDAP_URI, kind=kind, bind_dn=settings.LDAP_BIND_DN, bind_password=settings.LDAP_BIND_PASSWORD,
        start_tls=settings.LDAP_START_TLS, user_base=settings.LDAP_USER_BASE,
        user_filter=settings.LDAP_USER_FILTER or defaults["user_filter"],
        login_attr=settings.LDAP_LOGIN_ATTR or defaults["login_attr"],
        uuid_attr=settings.LDAP_UUID_ATTR or defaults["uuid_attr"],
        attr_map={name: attr for name, attr in attr_map.items() if attr},
        group_base=settings.LDAP_GROUP_BASE, group_filter=settings.LDAP_GROUP_FILTER or defaults["group_filter"],
        group_type=group_type, group_name_attr=settings.LDAP_GROUP_NAME_ATTR or "cn",
        nested_groups=settings.LDAP_NESTED_GROUPS, require_group=settings.LDAP_REQUIRE_GROUP.lower(),
        disabled_filter=settings.LDAP_DISABLED_FILTER, adopt_local_users=settings.LDAP_ADOPT_LOCAL_USERS,
        page_size=max(1, settings.LDAP_PAGE_SIZE), timeout=max(1, settings.LDAP_TIMEOUT),
    )


def connection_options(config: DirectoryConfig) -> dict:
    return {ldap.OPT_REFERRALS: 0, ldap.OPT_PROTOCOL_VERSION: 3, ldap.OPT_NETWORK_TIMEOUT: config.timeout,
            ldap.OPT_TIMEOUT: config.timeout * 6}


def unavailable(config: DirectoryConfig, exc: ldap.LDAPError) -> DirectoryUnavailable:
    reason = exc.args[0].get("desc", str(exc)) if exc.args and isinstance(exc.args[0], dict) else str(exc)
    return DirectoryUnavailable(
        gettext("The LDAP directory at %(uri)s could not be read (%(reason)s); nothing was changed. Check that it "
                "is running and that PORTAL_LDAP_BIND_DN and its password are right.")
        % {"uri": config.uri, "reason": reason}, detail={"uri": config.uri, "reason": reason})


def connect(config: DirectoryConfig):
    """A connection bound as the service account; DirectoryUnavailable if not."""
    try:
        conn = ldap.initialize(config.uri, bytes_mode=False)
        for option, value in connection_options(config).items():
            conn.set_option(option, value)
        if config.start_tls:
            conn.start_tls_s()
        conn.simple_bind_s(config.bind_dn, config.bind_password)
    except ldap.LDAPError as exc:
        raise unavailable(config, exc) from None
    return conn


def text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def field_value(name: str, values) -> str:
    """An attribute's first value as the user field ``name`` keeps it."""
    from portal.accounts.models import User

    return text(values[0]).strip()[:User._meta.get_field(name).max_length] if values else ""


def subject_of(dn: str, attrs, config: DirectoryConfig) -> str:
    """The stable id of an entry: its entryUUID / objectGUID (a rename or a
    move keeps it), else its DN."""
    values = attrs.get(config.uuid_attr) or []
    if values:
        value = values[0]
        if isinstance(value, bytes) and len(value) == 16 and config.kind == ACTIVE_DIRECTORY:
            return str(uuid.UUID(bytes_le=value))
        return text(value).lower()
    return "dn:" + dn.lower()
