"""Fixtures for the lock tests: the file-tree fixtures (a team space owned by
alice, its members, files), and a file to lock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.files.selectors import space_root
from portal.locks.models import Lock, LockKind
from tests.files import conftest as files_fixtures

# The file-tree fixtures, shared rather than copied.
team, member_of, make_file, upload, signed_in = (files_fixtures.team, files_fixtures.member_of,
                                                 files_fixtures.make_file, files_fixtures.upload,
                                                 files_fixtures.signed_in)


@pytest.fixture
def root(team):
    root = space_root(team)
    root.path_names = []
    return root


@pytest.fixture
def doc(make_file, root):
    """/report.docx in the team space, with one version (no bytes)."""
    return make_file(root, "report.docx")


@pytest.fixture
def editor(member_of):
    return member_of("editor", "erin")


@pytest.fixture
def manager(member_of):
    return member_of("manager", "mona")


@pytest.fixture
def lock_row():
    """``lock_row(node, owner, expires_in=..., **fields)`` -> a lock written
    straight to the table, for exact expiry instants."""

    def make(node, owner, *, expires_in: timedelta = timedelta(hours=1), now=None, **fields) -> Lock:
        now = now or timezone.now()
        fields.setdefault("kind", LockKind.MANUAL)
        return Lock.objects.create(node=node, owner=owner, created_at=now - timedelta(minutes=5),
                                   refreshed_at=now, expires_at=now + expires_in,
                                   timeout_seconds=max(int(expires_in.total_seconds()), 1), **fields)

    return make
