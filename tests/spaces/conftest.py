import pytest

from portal.core.access import Role
from portal.spaces.models import Membership
from portal.spaces.services import space_create


@pytest.fixture
def team(alice):
    """A team space owned by alice."""
    return space_create(actor=alice, name="Finance")


@pytest.fixture
def member_of(team, make_user):
    """``member_of(role)`` -> a new user holding ``role`` in ``team``."""

    def make(role: str, username: str | None = None):
        user = make_user(username=username or f"{role}-{Membership.objects.filter(space=team).count()}")
        Membership.objects.create(space=team, user=user, role=role)
        return user

    return make


@pytest.fixture
def admin(make_user):
    return make_user(username="root", is_superuser=True, is_staff=True)


ROLES = [Role.VIEWER, Role.EDITOR, Role.MANAGER, Role.OWNER]
