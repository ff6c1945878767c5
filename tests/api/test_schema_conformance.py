"""The OpenAPI schema tells the truth: Schemathesis generates requests for every operation from
/api/schema/ and sends them, as a space owner with a personal access token and the ids of real
objects, to the WSGI app in-process; every answer must be no server error, of a documented status
and content type, and match its documented schema."""

import json
from types import SimpleNamespace

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from rest_framework.test import APIClient

from portal.accounts import services as accounts
from portal.spaces.models import Membership
from portal.spaces.services import space_create
from tests.factories import UserFactory
from tests.files.conftest import Uploader

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 6  # generated requests per operation (plus the schema's examples): ~90 operations in under 90 s


def _schema():
    """The schema /api/schema/ serves (made without a request: no database at collection), sent to
    the WSGI app in-process."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    from portal.wsgi import application

    document = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    # The coverage phase (every boundary of every field, ~20x the requests) does not fit the CI budget;
    # the integer boundaries it would try are tests/api/test_integer_bounds.py's.
    config = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
    loaded = schemathesis.openapi.from_dict(document, config=config)
    loaded.app = application
    return loaded


schema = _schema()


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """An owner's space with a folder, a file (real bytes in the store), a link, a member, a trashed
    file and an open upload; the owner's token. Made once, in a transaction rolled back after the
    module; each operation's requests run in a savepoint of it (the ``db`` fixture)."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield _world()
        transaction.set_rollback(True)


def _world() -> SimpleNamespace:
    owner, member = UserFactory(username="fuzz-owner"), UserFactory(username="fuzz-member")
    space = space_create(actor=owner, name="Fuzzed")
    Membership.objects.create(space=space, user=member, role="viewer")
    client = APIClient()
    client.force_authenticate(user=owner)
    client.post(f"/api/v1/spaces/{space.pk}/folders", {"path": "Docs"}, format="json")
    file = Uploader()(client, space, "Docs/a.txt", b"hello")
    gone = Uploader()(client, space, "gone.txt", b"bye")
    assert client.delete(f"/api/v1/files/{gone['id']}").status_code in (200, 204)
    link = client.post("/api/v1/shares", {"node": file["id"], "permission": "download"}, format="json").json()
    upload = Uploader().start(client, space, "open.bin", b"x").json()
    token, secret = accounts.token_issue(actor=owner, owner=owner, name="fuzz")
    ids = {"space_id": space.pk, "node_id": file["id"], "user_id": member.pk, "link_id": link["id"],
           "token_id": token.pk, "upload_id": upload["id"], "number": 1}
    return SimpleNamespace(ids=ids, headers={"Authorization": f"Bearer {secret}"})


@pytest.fixture(autouse=True)
def _one_connection_per_test():
    """The WSGI handler closes the database connection around each request (close_old_connections);
    the test's transaction must survive, as Django's own test client arranges."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_its_schema_says(case, world, db):
    for name in case.path_parameters or {}:
        if name in world.ids:
            case.path_parameters[name] = world.ids[name]
    case.call_and_validate(headers=world.headers, checks=CHECKS)
