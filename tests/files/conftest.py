"""Fixtures for the file tree tests: a team space, its members, and uploads
through the real API on the local backend (the default in tests)."""

from __future__ import annotations

import hashlib
from urllib.parse import urlparse

import pytest

from portal.spaces.models import Membership
from portal.spaces.services import space_create


@pytest.fixture
def team(alice):
    """A team space owned by alice."""
    return space_create(actor=alice, name="Team")


@pytest.fixture
def member_of(team, make_user):
    """``member_of(role)`` -> a new user holding ``role`` in ``team``."""

    def make(role: str, username: str | None = None):
        user = make_user(username=username or f"{role}-{Membership.objects.filter(space=team).count()}")
        Membership.objects.create(space=team, user=user, role=role)
        return user

    return make


class Uploader:
    """``upload(client, space, path, data, **extra)`` -> the new file's metadata.

    The steps are there on their own too, for tests that do something in
    between: ``start`` (the response), ``send`` (PUT every part) and
    ``complete`` (the response)."""

    def start(self, client, space, path: str, data: bytes, **extra):
        body = {"space": space.id, "path": path, "size": len(data), **extra}
        return client.post("/api/v1/uploads", body, format="json")

    def send(self, client, started: dict, data: bytes) -> None:
        for part in started["parts"]:
            url = urlparse(part["url"])
            begin = (part["number"] - 1) * started["part_size"]
            response = client.generic("PUT", f"{url.path}?{url.query}", data[begin:begin + part["size"]],
                                      content_type="application/octet-stream")
            assert response.status_code == 200, response.content

    def complete(self, client, upload_id):
        return client.post(f"/api/v1/uploads/{upload_id}/complete")

    def __call__(self, client, space, path: str, data: bytes, *, with_sha256: bool = False, **extra) -> dict:
        if with_sha256:
            extra["sha256"] = hashlib.sha256(data).hexdigest()
        started = self.start(client, space, path, data, **extra)
        assert started.status_code == 201, started.content
        self.send(client, started.json(), data)
        done = self.complete(client, started.json()["id"])
        assert done.status_code == 201, done.content
        return done.json()


@pytest.fixture
def upload(db):
    return Uploader()


class FileMaker:
    """Files made straight in the database, for tests about the tree's
    metadata (listing, sorting, query counts) rather than its bytes: no
    object in the store and no quota charged.

    ``make_file(folder, name, size=0)`` -> one file node; ``make_file.many(folder, count)``
    -> ``count`` files in a few bulk queries."""

    def __call__(self, folder, name: str, size: int = 0):
        return self.many(folder, 1, names=[name], size=size)[0]

    def many(self, folder, count: int, *, names: list[str] | None = None, size: int = 0):
        import uuid

        from portal.files import names as tree_names
        from portal.files.models import Blob, FileVersion, Node, NodeKind

        names = names or [f"file-{i:05d}.bin" for i in range(count)]
        blobs = Blob.objects.bulk_create(Blob(key=f"blobs/db-only/{uuid.uuid4().hex}", size=size) for _ in names)
        nodes = Node.objects.bulk_create(
            Node(space_id=folder.space_id, parent=folder, kind=NodeKind.FILE, name=name,
                 name_key=tree_names.name_key(name), size=size) for name in names)
        versions = FileVersion.objects.bulk_create(
            FileVersion(node=node, number=1, blob=blob, size=size) for node, blob in zip(nodes, blobs))
        for node, version in zip(nodes, versions):
            node.current_version = version
        Node.objects.bulk_update(nodes, ["current_version"])
        return nodes


@pytest.fixture
def make_file(db):
    return FileMaker()


@pytest.fixture
def signed_in():
    """``signed_in(user)`` -> a new API client of that user's own (``api.as_user``
    re-signs one shared client, so two users in one test need this)."""
    from rest_framework.test import APIClient

    def make(user):
        client = APIClient()
        client.force_authenticate(user=user)
        return client

    return make
