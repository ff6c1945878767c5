"""Fixtures for the admin panel: a superuser and a plain staff member signed
in to the admin, and a team space of alice's with a file, a link, a lock and
an enrolled device, all made through the services."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from portal.backups.services.devices import device_enroll, enrollment_token_create
from portal.files.selectors import space_root
from portal.locks.services import lock_acquire
from portal.shares.services import share_link_create
from tests.files import conftest as files_fixtures

team, make_file, upload = files_fixtures.team, files_fixtures.make_file, files_fixtures.upload


@pytest.fixture
def root_admin(make_user):
    return make_user(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def staff(make_user):
    """Staff, not superuser: may view every admin list, run no bulk action."""
    user = make_user(username="stella", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client_(root_admin) -> Client:
    return _client(root_admin)


@pytest.fixture
def staff_client(staff) -> Client:
    return _client(staff)


@pytest.fixture
def root(team):
    root = space_root(team)
    root.path_names = []
    return root


@pytest.fixture
def doc(make_file, root):
    return make_file(root, "Q3.xlsx")


@pytest.fixture
def link(alice, doc):
    return share_link_create(actor=alice, node_id=doc.pk, permission="download")[0]


@pytest.fixture
def lock(alice, doc):
    return lock_acquire(actor=alice, node=doc)


@pytest.fixture
def device(alice):
    _, token = enrollment_token_create(actor=alice, owner=alice)
    return device_enroll(token=token, hostname="laptop", platform="linux")[0]


def action_post(client, url: str, action: str, ids, **extra):
    return client.post(url, {"action": action, "_selected_action": [str(i) for i in ids], "index": 0, **extra})


# The admin console's tests (test_console_*.py): an administrator and a plain user, each signed in.

@pytest.fixture
def boss(make_user):
    return make_user(username="boss", is_staff=True, is_superuser=True)


@pytest.fixture
def boss_client(boss) -> Client:
    return _client(boss)


@pytest.fixture
def user_client(alice) -> Client:
    """alice: signed in, not an administrator."""
    return _client(alice)
