"""The role × capability table is the product's permission model: pin it."""

import pytest

from portal.core.access import ADMIN_CAPS, ROLE_CAPS, Cap, Role
from portal.spaces.selectors import can

EXPECTED = {
    Cap.SPACE_VIEW: {"viewer", "editor", "manager", "owner"},
    Cap.FILE_READ: {"viewer", "editor", "manager", "owner"},
    Cap.MEMBER_LIST: {"viewer", "editor", "manager", "owner"},
    Cap.FILE_WRITE: {"editor", "manager", "owner"},
    Cap.SHARE_CREATE: {"editor", "manager", "owner"},
    Cap.MEMBER_MANAGE: {"manager", "owner"},
    Cap.TRASH_PURGE: {"manager", "owner"},
    Cap.LINK_MANAGE_OTHERS: {"manager", "owner"},
    Cap.LOCK_BREAK: {"manager", "owner"},
    Cap.SPACE_RENAME: {"manager", "owner"},
    Cap.SPACE_POLICY: {"manager", "owner"},
    Cap.POINT_RESTORE: {"manager", "owner"},
    Cap.OWNER_MANAGE: {"owner"},
    Cap.SPACE_ARCHIVE: {"owner"},
    Cap.SPACE_DELETE: {"owner"},
    Cap.SPACE_TRANSFER: {"owner"},
    Cap.SPACE_QUOTA: set(),
}


def test_every_capability_is_pinned_by_this_test():
    assert set(EXPECTED) == set(Cap)


@pytest.mark.parametrize("cap", list(Cap), ids=lambda c: c.value)
@pytest.mark.parametrize("role", Role.values)
def test_role_grants_exactly_the_expected_capabilities(role, cap):
    assert (cap in ROLE_CAPS[role]) == (role in EXPECTED[cap])


def test_only_administrators_set_quotas_and_they_can_break_locks_anywhere():
    assert Cap.SPACE_QUOTA in ADMIN_CAPS
    assert Cap.LOCK_BREAK in ADMIN_CAPS
    assert Cap.FILE_READ not in ADMIN_CAPS, "admins do not read team files just by being admins"


@pytest.mark.django_db
@pytest.mark.parametrize("role", Role.values)
def test_can_answers_from_the_members_role(team, member_of, role):
    user = member_of(role)
    for cap in Cap:
        assert can(user, cap, team) == (role in EXPECTED[cap]), cap


@pytest.mark.django_db
def test_outsiders_disabled_users_and_anonymous_visitors_can_do_nothing(team, member_of, bob):
    from django.contrib.auth.models import AnonymousUser

    owner = member_of(Role.OWNER)
    owner.is_active = False
    owner.save()
    for cap in Cap:
        assert not can(bob, cap, team)
        assert not can(owner, cap, team)
        assert not can(AnonymousUser(), cap, team)


@pytest.mark.django_db
def test_an_administrator_outside_the_space_has_only_the_admin_capabilities(team, admin):
    for cap in Cap:
        assert can(admin, cap, team) == (cap in ADMIN_CAPS)
