"""Write access is re-checked at every step of a resumable upload: a member
removed from the space (or demoted to viewer) after starting an upload can
neither get part URLs nor complete it, so nothing they started can overwrite
a file. Performed over HTTP as the attacker would, on both backends (the
parts go to the real URLs: SeaweedFS's presigned ones, or the portal's own
signed ones on a live server)."""

from __future__ import annotations

import io

import pytest
from rest_framework.test import APIClient

from portal.files.models import Node, UploadSession, UploadState
from portal.spaces.models import Membership
from portal.spaces.services import member_change_role, member_remove, space_create
from tests.files.support_s3 import MiB, chunk, put_part
from tests.files.test_uploads_api import backend  # noqa: F401  (the local/s3 fixture, shared)
from tests.files.test_uploads_api import complete, start, stored
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db(transaction=True)

ORIGINAL = b"the signed contract\n"
PAYLOAD = b"x" * (5 * MiB) + b"the attacker's version\n"   # two parts of the 5 MiB the fixture sets


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


@pytest.fixture
def team(alice, bob):
    """alice's space, bob an editor in it, and /contract.txt (alice's, v1)."""
    space = space_create(actor=alice, name="Legal")
    Membership.objects.create(space=space, user=bob, role="editor")
    started = start(client_of(alice), space, "contract.txt", ORIGINAL)
    for part in started["parts"]:
        put_part(part["url"], chunk(ORIGINAL, part, started["part_size"]))
    assert complete(client_of(alice), started["id"]).status_code == 201
    return space


def contract(space) -> Node:
    return Node.objects.select_related("current_version").get(space=space, name="contract.txt")


def started_by_bob(space, bob) -> dict:
    """bob, still an editor, starts overwriting the contract and sends part 1."""
    upload = start(client_of(bob), space, "contract.txt", PAYLOAD)
    first = next(part for part in upload["parts"] if part["number"] == 1)
    put_part(first["url"], chunk(PAYLOAD, first, upload["part_size"]))
    return upload


def assert_contract_untouched(space) -> None:
    node = contract(space)
    assert node.current_version.number == 1
    assert stored(node.pk) == ORIGINAL


@pytest.mark.usefixtures("backend")
def test_a_member_removed_mid_upload_gets_no_part_urls_and_cannot_complete(team, alice, bob):
    upload = started_by_bob(team, bob)
    member_remove(actor=alice, space_id=team.pk, user_id=bob.pk)
    bobs = client_of(bob)

    assert_error(bobs.get(f"/api/v1/uploads/{upload['id']}"), 404, "not_found")
    assert_error(bobs.get(f"/api/v1/uploads/{upload['id']}?parts=2"), 404, "not_found")
    # The URL of part 2 from before the removal lives out its five minutes; the bytes stay staging bytes.
    second = next(part for part in upload["parts"] if part["number"] == 2)
    put_part(second["url"], chunk(PAYLOAD, second, upload["part_size"]))
    assert_error(complete(bobs, upload["id"]), 404, "not_found")

    assert_contract_untouched(team)
    assert UploadSession.objects.get(pk=upload["id"]).state == UploadState.OPEN


@pytest.mark.usefixtures("backend")
def test_a_member_demoted_to_viewer_mid_upload_gets_no_part_urls_and_cannot_complete(team, alice, bob):
    upload = started_by_bob(team, bob)
    member_change_role(actor=alice, space_id=team.pk, user_id=bob.pk, role="viewer")
    bobs = client_of(bob)

    assert_error(bobs.get(f"/api/v1/uploads/{upload['id']}"), 403, "forbidden")
    second = next(part for part in upload["parts"] if part["number"] == 2)
    put_part(second["url"], chunk(PAYLOAD, second, upload["part_size"]))
    assert_error(complete(bobs, upload["id"]), 403, "forbidden")

    assert_contract_untouched(team)


@pytest.mark.usefixtures("backend")
def test_an_editor_again_completes_the_upload_they_started(team, alice, bob):
    """The check is about the caller's role now: restored, the upload resumes."""
    upload = started_by_bob(team, bob)
    member_change_role(actor=alice, space_id=team.pk, user_id=bob.pk, role="viewer")
    member_change_role(actor=alice, space_id=team.pk, user_id=bob.pk, role="editor")
    bobs = client_of(bob)
    missing = bobs.get(f"/api/v1/uploads/{upload['id']}").json()
    for part in missing["parts"]:
        put_part(part["url"], chunk(PAYLOAD, part, upload["part_size"]))
    assert complete(bobs, upload["id"]).status_code == 201
    assert stored(contract(team).pk) == PAYLOAD


@pytest.mark.usefixtures("backend")
def test_a_removed_member_may_still_abort_their_own_upload(team, alice, bob):
    upload = started_by_bob(team, bob)
    member_remove(actor=alice, space_id=team.pk, user_id=bob.pk)
    assert client_of(bob).delete(f"/api/v1/uploads/{upload['id']}").status_code == 204
    assert UploadSession.objects.get(pk=upload["id"]).state == UploadState.ABORTED
    assert_contract_untouched(team)


@pytest.mark.usefixtures("backend")
def test_a_member_removed_while_their_whole_file_upload_streams_in_creates_nothing(team, alice, bob):
    """The browser's and WebDAV's one-request uploads check again once the body has arrived."""
    from portal.core.errors import NotFound
    from portal.files.services.direct import file_put

    class SlowBody(io.BytesIO):
        """The body of a long upload, during which the owner removes bob."""

        removed = False

        def read(self, size=-1):
            if not self.removed:
                self.removed = True
                member_remove(actor=alice, space_id=team.pk, user_id=bob.pk)
            return super().read(size)

    with pytest.raises(NotFound):
        file_put(actor=bob, space_id=team.pk, path="/contract.txt", fileobj=SlowBody(b"overwritten"), size=11)
    assert_contract_untouched(team)
