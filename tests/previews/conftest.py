"""Fixtures of the viewer tests: a team space with files of every kind, made
through the real upload service (bytes in the local store, scanned state
pending as after an upload), and a generated image."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from portal.files.services.direct import file_put
from portal.scanning.models import ScanState, ScanVerdict
from portal.spaces.services import space_create
from portal.storage.derived import reset_derived_storage


def png_bytes(size=(640, 480), color=(200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


class Files:
    def __init__(self, actor, space):
        self.actor, self.space = actor, space

    def put(self, path: str, data: bytes):
        return file_put(actor=self.actor, space_id=self.space.pk, path=path, fileobj=io.BytesIO(data),
                        size=len(data))

    def node(self, path: str, data: bytes):
        return self.put(path, data).node


def scanned(version, state=ScanState.CLEAN, signature="") -> None:
    ScanVerdict.objects.filter(version=version).update(state=state, signature=signature, scanner="clamav")


@pytest.fixture(autouse=True)
def _fresh_derived_storage():
    reset_derived_storage()
    yield
    reset_derived_storage()


@pytest.fixture
def team(alice):
    return space_create(actor=alice, name="Team")


@pytest.fixture
def files(alice, team):
    return Files(alice, team)
