"""Attacks on sensitive-content policies: a held link serves nothing on any
path, its owner cannot switch it back on, a folder link does not leak a
blocked file inside it, and nobody but an administrator approves."""

from __future__ import annotations

import io

import pytest
from django.test import Client

from portal.core.errors import Forbidden
from portal.files.services.direct import file_put
from portal.governance import services_sensitive as sensitive
from portal.governance.models import LabelPolicy, LabelReview
from portal.scanning.services import scan_version
from portal.shares.services import share_link_create, share_link_update
from portal.spaces.services import space_create
from tests.support.dlp_text import seed_builtin_detectors

pytestmark = pytest.mark.django_db
ID = "110105199003071239"


@pytest.fixture
def labelled(alice, settings, tmp_path):
    settings.STORAGE_ROOT = tmp_path / "objects"
    from portal.storage import get_store

    get_store().ensure_bucket()
    seed_builtin_detectors()
    space = space_create(actor=alice, name="HR")
    data = f"身份证 {ID}".encode()
    version = file_put(actor=alice, space_id=space.pk, path="/Staff/ids.txt", fileobj=io.BytesIO(data),
                       size=len(data))
    scan_version(version.pk)
    assert sensitive.version_label(version.pk).startswith("labelled")
    return version.node


def test_a_held_link_serves_nothing_on_any_path_and_its_owner_cannot_reopen_it(alice, labelled):
    LabelPolicy.objects.filter(label="personal-id").update(action="approve")
    link, token = share_link_create(actor=alice, node_id=labelled.pk, permission="download")
    visitor = Client()
    for path in ("", "/download", "/preview"):
        response = visitor.get(f"/s/{token}{path}")
        assert response.status_code == 410, (path, response.status_code)
        assert ID.encode() not in response.content
    share_link_update(actor=alice, link_id=link.pk, changes={"enabled": False})
    share_link_update(actor=alice, link_id=link.pk, changes={"enabled": True})
    assert visitor.get(f"/s/{token}/download").status_code == 410


def test_a_folder_link_does_not_leak_a_blocked_file_inside_it(alice, labelled):
    LabelPolicy.objects.filter(label="personal-id").update(action="block")
    _link, token = share_link_create(actor=alice, node_id=labelled.parent_id, permission="download")
    response = Client().get(f"/s/{token}/download/ids.txt")
    assert response.status_code == 403 and ID.encode() not in response.content
    _inner, inner_token = share_link_create(actor=alice, node_id=labelled.parent_id, permission="download",
                                            audience="internal")
    signed_in = Client()
    signed_in.force_login(alice)
    assert signed_in.get(f"/s/{inner_token}/download/ids.txt").status_code in (200, 302)


def test_the_owner_or_a_manager_cannot_approve_their_own_file(alice, labelled):
    review = LabelReview.objects.get(node=labelled)
    for call in (sensitive.label_review_approve, sensitive.label_review_relabel):
        with pytest.raises(Forbidden):
            call(actor=alice, review_id=review.pk, **({"labels": ""} if call is sensitive.label_review_relabel else {}))
    assert LabelReview.objects.get(pk=review.pk).state == "pending"
