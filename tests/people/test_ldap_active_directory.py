"""The sync in Active Directory mode, against AD-shaped entries in the real
slapd (OpenLDAP ships AD's user and group classes as msuser.schema):
accounts keyed by objectGUID (its binary, little-endian GUID form) and
disabled by userAccountControl's ACCOUNTDISABLE bit; AD groups nested."""

from __future__ import annotations

import itertools
import uuid

import ldap.modlist
import pytest

from portal.accounts.models import User
from portal.people.directory.services import directory_sync
from portal.people.models import ExternalIdentity, GroupMember
from tests.support.slapd import configure

pytestmark = pytest.mark.django_db
NORMAL, DISABLED = 512, 514  # userAccountControl: a normal account, and one with ACCOUNTDISABLE (2)
_trees = itertools.count(1)


def _add(server, dn: str, entry: dict) -> None:
    conn = server.connect()
    try:
        conn.add_s(dn, ldap.modlist.addModlist({k: [v if isinstance(v, bytes) else str(v).encode() for v in values]
                                                for k, values in entry.items()}))
    finally:
        conn.unbind_s()


def _mstop(server, category: str) -> dict:
    return {"instanceType": [4], "nTSecurityDescriptor": [b"\x01\x00"],
            "objectCategory": [f"cn={category},{server.suffix}"]}


@pytest.fixture
def active_directory(slapd, settings):
    base = f"ou=ad{next(_trees)},{slapd.suffix}"
    _add(slapd, base, {"objectClass": ["organizationalUnit"], "ou": [base.split(",")[0][3:]]})
    guids = {name: uuid.uuid4() for name in ("ada", "bert", "staff", "devs")}
    for name, control in (("ada", NORMAL), ("bert", DISABLED)):
        _add(slapd, f"cn={name.title()},{base}", {
            "objectClass": ["user", "extensibleObject"], "cn": [name.title()], "sn": [name.title()],
            "givenName": [name.title()], "sAMAccountName": [name], "mail": [f"{name}@corp.example"],
            "userAccountControl": [control], "objectGUID": [guids[name].bytes_le], **_mstop(slapd, "person")})
    _add(slapd, f"cn=Devs,{base}", {"objectClass": ["group"], "cn": ["Devs"], "groupType": [-2147483646],
                                    "objectGUID": [guids["devs"].bytes_le], "member": [f"cn=Ada,{base}"],
                                    **_mstop(slapd, "group")})
    _add(slapd, f"cn=Staff,{base}", {"objectClass": ["group"], "cn": ["Staff"], "groupType": [-2147483646],
                                     "objectGUID": [guids["staff"].bytes_le], "member": [f"cn=Devs,{base}"],
                                     **_mstop(slapd, "group")})
    configure(settings, slapd, base, LDAP_KIND="activedirectory", LDAP_USER_BASE=base, LDAP_GROUP_BASE=base,
              LDAP_USER_FILTER="(objectClass=user)", LDAP_ATTR_DISPLAY_NAME="")
    try:
        yield base, guids
    finally:
        slapd.delete_tree(base)


def test_active_directory_accounts_are_keyed_by_object_guid_and_disabled_by_the_flag(active_directory, slapd):
    base, guids = active_directory
    report = directory_sync(actor=None)
    assert report.created == 1 and not User.objects.filter(username="bert").exists()  # disabled there: not made
    ada = User.objects.get(username="ada")
    assert ExternalIdentity.objects.get(user=ada).subject == str(guids["ada"])
    assert set(GroupMember.objects.filter(user=ada).values_list("group__name", flat=True)) == {"Devs", "Staff"}
    conn = slapd.connect()
    conn.modify_s(f"cn=Ada,{base}", [(ldap.MOD_REPLACE, "userAccountControl", [str(DISABLED).encode()])])
    conn.unbind_s()
    assert directory_sync(actor=None).disabled == 1
    assert not User.objects.get(pk=ada.pk).is_active
