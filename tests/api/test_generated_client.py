"""A client generated from the schema works as generated: openapi-python-client builds a typed
package from the live server's /api/schema/ (no hand edits), and with its models and functions alone
a script lists spaces, uploads a file through the upload flow (the parts PUT straight to SeaweedFS),
reads it back and shares it; another user's token gets a typed 404, bad input a typed 400."""

from __future__ import annotations

import hashlib
import importlib
import subprocess
import sys
import time
import uuid
from types import SimpleNamespace

import pytest
import requests

from portal.accounts.services import token_issue
from portal.files.models import UploadSession
from portal.spaces.models import Membership
from tests.factories import UserFactory
from tests.files.support_s3 import use_s3

pytestmark = pytest.mark.django_db(transaction=True)

PACKAGE = "coffer_client"
# What the generator is told: no formatter hooks (ruff need not be on PATH), and the downloads the
# schema documents as */* (a file's own type) or application/zip read as bytes; it parses no others.
CONFIG = """\
post_hooks: []
content_type_overrides:
  "*/*": application/octet-stream
  application/zip: application/octet-stream
"""


@pytest.fixture(scope="module")
def generated(live_server, django_db_setup, django_db_blocker, tmp_path_factory):
    """The generated package, imported from a temp folder; what the generator printed and how long it took."""
    folder = tmp_path_factory.mktemp("generated-client")
    with django_db_blocker.unblock():
        answer = requests.get(f"{live_server.url}/api/schema/", params={"format": "json"}, timeout=60)
    assert answer.status_code == 200, answer.text[:500]
    (folder / "openapi.json").write_bytes(answer.content)
    (folder / "config.yaml").write_text(CONFIG)
    began = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", "openapi.json", "--meta", "none",
         "--output-path", PACKAGE, "--config", "config.yaml"],
        cwd=folder, capture_output=True, text=True, timeout=120)
    seconds = time.monotonic() - began
    assert run.returncode == 0, run.stdout + run.stderr
    sys.path.insert(0, str(folder))
    try:
        yield SimpleNamespace(import_=lambda name: importlib.import_module(f"{PACKAGE}.{name}"),
                              output=run.stdout + run.stderr, seconds=seconds)
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture
def connect(generated, live_server):
    """``connect(user)`` -> a generated AuthenticatedClient with a personal access token of the user's."""
    client_module = generated.import_("client")
    opened = []

    def make(user):
        _, secret = token_issue(actor=user, owner=user, name="generated client")
        client = client_module.AuthenticatedClient(base_url=live_server.url, token=secret, follow_redirects=True,
                                                   raise_on_unexpected_status=True)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.get_httpx_client().close()


@pytest.fixture
def s3(settings, seaweed):
    return use_s3(settings, seaweed, bucket=f"client-{uuid.uuid4().hex[:12]}")


def _api(generated, operation: str):
    return generated.import_(f"api.api.{operation}")


def test_every_operation_is_generated_without_a_warning(generated):
    assert "WARNING" not in generated.output, generated.output
    assert generated.seconds < 30


def test_a_generated_client_lists_spaces_uploads_reads_back_and_shares_typed(generated, connect, s3):
    models = generated.import_("models")
    owner = UserFactory(username="alice")
    alice = connect(owner)
    made = [_api(generated, "api_v1_spaces_create").sync(client=alice, body=models.SpaceCreateInRequest(name=name))
            for name in ("Reports", "Team")]
    assert all(isinstance(space, models.SpaceOut) for space in made), made

    first = _api(generated, "api_v1_spaces_list").sync(client=alice, page_size=1)
    assert isinstance(first, models.PaginatedSpaceOutList)
    assert isinstance(first.results[0], models.SpaceOut) and first.results[0].role == "owner"
    assert first.count == Membership.objects.filter(user=owner).count() >= 2  # with the personal space
    assert isinstance(first.next_, str) and first.previous is None

    data = b"revenue up " * 20_000
    node = _upload(generated, alice, made[0].id, "Q3/summary.txt", data)
    assert isinstance(node, models.NodeOut)
    assert (node.path, node.size, node.kind) == ("/Q3/summary.txt", len(data), models.KindEnum.FILE)

    content = _api(generated, "api_v1_files_content_retrieve").sync_detailed(node.id, client=alice)
    assert content.status_code == 200 and isinstance(content.parsed, generated.import_("types").File)
    assert content.parsed.payload.read() == data  # the 302 to the presigned URL, followed

    link = _api(generated, "api_v1_shares_create").sync(client=alice, body=models.ShareCreateInRequest(
        node=node.id, permission=models.PermissionEnum.DOWNLOAD, max_downloads=3))
    assert isinstance(link, models.ShareOut), link
    assert (link.node, link.permission, link.max_downloads, link.state) == (node.id, "download", 3, "active")
    assert link.token and link.url and link.url.endswith(link.token)


def _upload(generated, client, space_id: int, path: str, data: bytes):
    """Start an upload, PUT each part to the URL it names (the object store's, not the API's), complete."""
    models = generated.import_("models")
    started = _api(generated, "api_v1_uploads_create").sync(client=client, body=models.UploadInRequest(
        space=space_id, path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest()))
    assert isinstance(started, models.UploadOut), started
    assert started.parts and all(isinstance(part, models.PartUrlOut) for part in started.parts)
    etags = []
    for part in started.parts:
        begin = (part.number - 1) * started.part_size
        answer = requests.put(part.url, data=data[begin:begin + part.size], timeout=30)
        assert answer.status_code == 200 and not part.url.startswith(str(client.get_httpx_client().base_url))
        etags.append(models.PartEtagInRequest(number=part.number, etag=answer.headers["ETag"]))
    return _api(generated, "api_v1_uploads_complete_create").sync(
        str(started.id), client=client, body=models.CompleteInRequest(parts=etags))


def test_another_users_token_gets_a_typed_not_found(generated, connect, s3):
    models = generated.import_("models")
    alice, bob = connect(UserFactory(username="alice")), connect(UserFactory(username="bob"))
    space = _api(generated, "api_v1_spaces_create").sync(client=alice, body=models.SpaceCreateInRequest(name="Private"))
    node = _upload(generated, alice, space.id, "secret.txt", b"alice only")

    for answer in [_api(generated, "api_v1_spaces_retrieve").sync_detailed(space.id, client=bob),
                   _api(generated, "api_v1_files_content_retrieve").sync_detailed(node.id, client=bob),
                   _api(generated, "api_v1_shares_create").sync_detailed(client=bob, body=models.ShareCreateInRequest(
                       node=node.id, permission=models.PermissionEnum.DOWNLOAD))]:
        assert answer.status_code == 404 and isinstance(answer.parsed, models.Error), answer.content
        assert answer.parsed.code == "not_found" and answer.parsed.message


def test_bad_input_gets_a_typed_error_naming_the_field(generated, connect):
    models = generated.import_("models")
    alice = connect(UserFactory(username="alice"))
    space = _api(generated, "api_v1_spaces_create").sync(client=alice, body=models.SpaceCreateInRequest(name="Team"))
    answer = _api(generated, "api_v1_uploads_create").sync_detailed(client=alice, body=models.UploadInRequest(
        space=space.id, path="a.txt", size=-1))
    assert answer.status_code == 400 and isinstance(answer.parsed, models.Error), answer.content
    assert answer.parsed.code == "invalid_input" and "size" in answer.parsed.detail.additional_properties
    assert not UploadSession.objects.exists()
