"""Fixtures for governance: a team space with files stored through the real
services (local store in a temporary folder), an administrator, and helpers
to age versions and put things under a hold or a retention."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.files.models import FileVersion, Node
from portal.files.services import tree
from portal.files.services.direct import file_put
from portal.governance import services as governance
from portal.spaces.services import space_create


@pytest.fixture
def store_root(settings, tmp_path):
    settings.STORAGE_ROOT = tmp_path / "objects"
    from portal.storage import get_store

    get_store().ensure_bucket()
    return settings.STORAGE_ROOT


@pytest.fixture
def team(alice, store_root):
    return space_create(actor=alice, name="Team")


@pytest.fixture
def put(alice, team):
    """``put(path, data=b"x", actor=alice, space=team)`` -> the new version (a real object in the store)."""
    def make(path: str, data: bytes = b"contract text", *, actor=None, space=None):
        return file_put(actor=actor or alice, space_id=(space or team).pk, path=path, fileobj=io.BytesIO(data),
                        size=len(data))
    return make


def age(*versions, days: int) -> None:
    FileVersion.objects.filter(pk__in=[v.pk for v in versions]).update(
        created_at=timezone.now() - timedelta(days=days))


def trash(actor, node, *, days_ago: int = 0) -> Node:
    tree.node_trash(actor=actor, node_id=node.pk)
    if days_ago:
        Node.objects.filter(pk=node.pk).update(trashed_at=timezone.now() - timedelta(days=days_ago))
    return Node.objects.get(pk=node.pk)


@pytest.fixture
def hold(admin):
    def make(kind: str, target, reason: str = "litigation 2026-17"):
        return governance.hold_create(actor=admin, kind=kind, target_id=target.pk, reason=reason)
    return make


@pytest.fixture
def retain(admin, team):
    def make(days: int, *, folder=None, space=None, end_action: str = "none"):
        return governance.retention_set(actor=admin, space_id=(space or team).pk,
                                        node_id=folder.pk if folder else None, days=days, end_action=end_action)
    return make


@pytest.fixture
def signed_in():
    """``signed_in(user)`` -> an API client of that user's own."""
    from rest_framework.test import APIClient

    def make(user):
        client = APIClient()
        client.force_authenticate(user=user)
        return client
    return make
