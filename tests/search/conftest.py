"""Fixtures for search: files stored through the real services (the index
follows the tree by itself), scanned and text-indexed as the workers would."""

from __future__ import annotations

import io

import pytest

from portal.scanning.services import scan_version
from portal.spaces.services import member_add, space_create
from tests.support.pdf import pdf_of


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` (ASCII) in Helvetica, with a correct xref table."""
    stream = f"BT /F1 18 Tf 40 700 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    return pdf_of(objects)


class Putter:
    """``put(user, space, path, data)`` -> the new version, stored, and (by the
    tasks its commit queues, run at once: see index_at_once) scanned and indexed."""

    def __call__(self, user, space, path: str, data: bytes = b""):
        from portal.files.services.direct import file_put

        version = file_put(actor=user, space_id=space.pk, path=path, fileobj=io.BytesIO(data), size=len(data))
        assert scan_version(version.pk) == "clean"
        return version


@pytest.fixture
def put(db):
    return Putter()


@pytest.fixture
def team(alice, bob):
    """alice's team space, bob a viewer in it."""
    space = space_create(actor=alice, name="Finance")
    member_add(actor=alice, space_id=space.pk, username=bob.username, role="viewer")
    return space


@pytest.fixture
def secret(make_user):
    """A space of carol's that neither alice nor bob is in."""
    carol = make_user(username="carol")
    return space_create(actor=carol, name="Board"), carol


@pytest.fixture
def eager_celery():
    """Tasks queued with .delay() run in the test's process, as a worker would run them."""
    from portal.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def index_at_once(eager_celery, monkeypatch):
    """The index tasks the tree's changes queue for after the commit run at
    once (a test's transaction never commits), as the workers would run them."""
    from portal.search import receivers

    monkeypatch.setattr(receivers, "enqueue", lambda task, *args, **options: task.delay(*args))


@pytest.fixture
def signed_in():
    """``signed_in(user)`` -> an API client of that user's own."""
    from rest_framework.test import APIClient

    def make(user):
        client = APIClient()
        client.force_authenticate(user=user)
        return client

    return make
