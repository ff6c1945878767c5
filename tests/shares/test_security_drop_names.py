"""A file dropped through a link under a name Windows reserves or refuses is
refused with 400 and nothing is stored; bidi controls in the sent filename
never reach a stored name."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from portal.files.models import Node

pytestmark = pytest.mark.django_db


@pytest.fixture
def drop(share, shared_folder):
    folder, _ = shared_folder
    return share(folder.id, permission="upload"), folder


def names_below(folder) -> set[str]:
    return set(Node.objects.filter(parent_id=folder.id).values_list("name", flat=True))


@pytest.mark.parametrize("name", ["CON.txt", "nul", "Lpt1.pdf", "a:b.txt", "x*y.txt", "q<3.txt"])
def test_a_drop_under_a_reserved_or_refused_name_is_refused(drop, visitor, name):
    link, folder = drop
    before = names_below(folder)
    answer = visitor().post(f"/s/{link['token']}/upload",
                            {"file": SimpleUploadedFile(name, b"payload", content_type="text/plain")},
                            HTTP_ACCEPT="application/json")
    assert answer.status_code == 400, answer.content
    assert "not a valid name" in answer.content.decode()
    assert names_below(folder) == before


def test_bidi_controls_in_a_dropped_filename_never_reach_a_stored_name(drop, visitor):
    link, folder = drop
    answer = visitor().post(f"/s/{link['token']}/upload",
                            {"file": SimpleUploadedFile("invoice\u202egpj.exe", b"MZ", content_type="image/jpeg")},
                            HTTP_ACCEPT="application/json")
    assert answer.status_code in (201, 400), answer.content
    stored = names_below(folder)
    assert not any(ch in name for name in stored for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
