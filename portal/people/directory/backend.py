"""Sign-in through LDAP / Active Directory (django-auth-ldap).

In AUTHENTICATION_BACKENDS after Django's own, so local accounts (the
break-glass administrator) keep working beside the directory. The
directory's people are found by PORTAL_LDAP_LOGIN_ATTR under
PORTAL_LDAP_USER_BASE and checked by binding with their password; their
account is the one linked to their entry (ExternalIdentity source "ldap",
by entryUUID / objectGUID), made on first sign-in with no usable local
password. A local account of the same name is taken over only if it has
no usable password (or PORTAL_LDAP_ADOPT_LOCAL_USERS=1).
"""

from __future__ import annotations

import logging

import ldap
from django.db import transaction
from django_auth_ldap.backend import LDAPBackend
from django_auth_ldap.config import (
    ActiveDirectoryGroupType, GroupOfNamesType, LDAPSearch, LDAPSettings, NestedActiveDirectoryGroupType,
    NestedGroupOfNamesType,
)

from portal.accounts.models import User
from portal.people.directory import config as directory_config
from portal.people.directory.config import (
    ACTIVE_DIRECTORY, AD_ACCOUNT_DISABLED, DirectoryConfig, field_value, subject_of, text,
)
from portal.people.directory.reader import Person
from portal.people.directory.services import directory_user_signed_in
from portal.people.models import ExternalIdentity, GroupSource

logger = logging.getLogger(__name__)

_GROUP_TYPES = {
    ("groupofnames", True): NestedGroupOfNamesType, ("groupofnames", False): GroupOfNamesType,
    ("activedirectory", True): NestedActiveDirectoryGroupType, ("activedirectory", False): ActiveDirectoryGroupType,
}


def auth_ldap_settings(config: DirectoryConfig) -> dict:
    """django-auth-ldap's settings for ``config`` (attributes and groups are
    applied by directory_user_signed_in, so they are audited)."""
    user_filter = f"(&{config.user_filter}({config.login_attr}=%(user)s))"
    group_base = config.group_base or config.require_group
    return {
        "SERVER_URI": config.uri, "BIND_DN": config.bind_dn, "BIND_PASSWORD": config.bind_password,
        "START_TLS": config.start_tls, "CONNECTION_OPTIONS": directory_config.connection_options(config),
        "USER_SEARCH": LDAPSearch(config.user_base, ldap.SCOPE_SUBTREE, user_filter, attrlist=config.user_attrs),
        "USER_ATTR_MAP": {}, "ALWAYS_UPDATE_USER": False, "CACHE_TIMEOUT": 0,
        "GROUP_SEARCH": LDAPSearch(group_base, ldap.SCOPE_SUBTREE, config.group_filter,
                                   attrlist=[config.group_name_attr, config.uuid_attr]) if group_base else None,
        "GROUP_TYPE": _GROUP_TYPES[config.group_type, config.nested_groups](name_attr=config.group_name_attr),
        "REQUIRE_GROUP": config.require_group or None,
    }


def _person(ldap_user, config: DirectoryConfig) -> Person:
    attrs = ldap_user.attrs
    fields = {name: field_value(name, attrs.get(attr)) for name, attr in config.attr_map.items()}
    username = text((attrs.get(config.login_attr) or [ldap_user._username])[0]).strip()
    return Person(dn=ldap_user.dn.lower(), subject=subject_of(ldap_user.dn, attrs, config), username=username,
                  fields=fields)


def _disabled_in_directory(ldap_user, config: DirectoryConfig) -> bool:
    if config.kind == ACTIVE_DIRECTORY:
        control = text((ldap_user.attrs.get("userAccountControl") or ["0"])[0])
        if control.isdigit() and int(control) & AD_ACCOUNT_DISABLED:
            return True
    if config.disabled_filter:
        found = ldap_user.connection.search_s(ldap_user.dn, ldap.SCOPE_BASE, config.disabled_filter, ["1.1"])
        return bool(found)
    return False


class DirectoryBackend(LDAPBackend):
    """django-auth-ldap, configured from PORTAL_LDAP_* and matching accounts
    by their directory identity."""

    def __init__(self):
        self._config = directory_config.load() if directory_config.enabled() else None

    @property
    def settings(self):
        if self._settings is None:
            # A prefix no setting has: every value comes from PORTAL_LDAP_* (via the config).
            self._settings = LDAPSettings("PORTAL_LDAP_NOT_A_SETTING_", auth_ldap_settings(self._config))
        return self._settings

    def authenticate(self, request, username=None, password=None, **kwargs):
        if self._config is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

    def get_user(self, user_id):
        user = User.objects.filter(pk=user_id, is_active=True).first()
        return user

    def get_or_build_user(self, username, ldap_user):
        person = _person(ldap_user, self._config)
        ldap_user.coffer_person = person
        identity = (ExternalIdentity.objects.filter(source=GroupSource.LDAP, subject=person.subject)
                    .select_related("user").first())
        if identity is not None:
            return identity.user, False
        user = User.objects.filter(username__iexact=person.username).first()
        if user is None:
            ldap_user.coffer_created = True
            return User(username=person.username, **person.fields), True
        adoptable = self._config.adopt_local_users or not user.has_usable_password()
        if not adoptable or ExternalIdentity.objects.filter(source=GroupSource.LDAP, user=user).exists():
            logger.warning("LDAP sign-in as %s refused: a local account of that name exists", person.username)
            raise ldap_user.AuthenticationFailed("a local account has that name")
        return user, False

    def authenticate_ldap_user(self, ldap_user, password):
        """Password checked by the directory; then, in one transaction, the
        account made or found and brought up to date (audited)."""
        try:
            with transaction.atomic():
                user = super().authenticate_ldap_user(ldap_user, password)
                if user is None or not user.is_active or _disabled_in_directory(ldap_user, self._config):
                    transaction.set_rollback(True)  # a new account for a refused sign-in is not kept
                    return None
                groups = self._groups(ldap_user)
                return directory_user_signed_in(user=user, person=ldap_user.coffer_person, groups=groups,
                                                created=getattr(ldap_user, "coffer_created", False))
        except ldap.LDAPError as exc:
            logger.warning("LDAP sign-in as %s failed: the directory did not answer (%s)", ldap_user._username, exc)
            return None

    def _groups(self, ldap_user) -> list[tuple[str, str]] | None:
        """(subject, name) of the user's groups under the group base, nested included."""
        if not self._config.groups_enabled:
            return None
        settings = self.settings
        infos = settings.GROUP_TYPE.user_groups(ldap_user, settings.GROUP_SEARCH)
        found = {}
        for dn, attrs in infos:
            name = text((attrs.get(self._config.group_name_attr) or [dn.split(",")[0].partition("=")[2]])[0])
            found[subject_of(dn, attrs, self._config)] = name
        return sorted(found.items())
