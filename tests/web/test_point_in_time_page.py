"""The restore-to-a-point-in-time page: managers preview and apply, others
are refused, bad input is refused in place."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.actions import Action
from portal.files.models import Node
from portal.files.services import tree
from portal.files.services.direct import file_put
from portal.spaces.models import Membership
from portal.spaces.services import space_create
from tests.helpers import events
from tests.web.live import page_client

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M:%S.%f")


@pytest.fixture
def hit(alice):
    space = space_create(actor=alice, name="Team")
    node = file_put(actor=alice, space_id=space.pk, path="/Docs/plan.txt", fileobj=io.BytesIO(b"v1"), size=2).node
    at = timezone.now()
    file_put(actor=alice, space_id=space.pk, path="/Docs/plan.txt", fileobj=io.BytesIO(b"XXXX"), size=4)
    tree.node_rename(actor=alice, node_id=node.pk, name="plan.txt.locked")
    file_put(actor=alice, space_id=space.pk, path="/Docs/HOW_TO_DECRYPT.txt", fileobj=io.BytesIO(b"pay"), size=3)
    return {"space": space, "node": node, "at": local(at)}


def test_a_manager_previews_then_applies_from_the_page(alice, hit):
    client, space = page_client(alice), hit["space"]
    page = client.get(f"/spaces/{space.pk}/restore-to-point/")
    assert page.status_code == 200 and 'type="datetime-local"' in page.content.decode()
    assert f"/spaces/{space.pk}/restore-to-point/" in client.get(f"/spaces/{space.pk}/").content.decode()
    assert f"/spaces/{space.pk}/restore-to-point/?path=/Docs" in client.get(f"/spaces/{space.pk}/?path=/Docs").content.decode()
    assert 'value="/Docs"' in client.get(f"/spaces/{space.pk}/restore-to-point/?path=/Docs").content.decode()
    preview = client.post(f"/spaces/{space.pk}/restore-to-point/preview", {"at": hit["at"], "path": "/Docs"}, **HTMX)
    body = preview.content.decode()
    assert preview.status_code == 200, body
    assert 'data-count="content">1<' in body and 'data-count="trash">1<' in body and "HOW_TO_DECRYPT.txt" in body
    assert Node.objects.get(pk=hit["node"].pk).name == "plan.txt.locked", "a preview changes nothing"
    applied = client.post(f"/spaces/{space.pk}/restore-to-point/apply", {"at": hit["at"], "path": "/Docs"}, **HTMX)
    assert applied.status_code == 200 and 'data-restore-run="done"' in applied.content.decode()
    assert Node.objects.get(pk=hit["node"].pk).name == "plan.txt"
    assert len(events(Action.FOLDER_RESTORED_TO_POINT, space=space)) == 1


def test_an_administrator_reaches_it_from_the_console(admin, hit):
    client = page_client(admin)
    assert f"/spaces/{hit['space'].pk}/restore-to-point/" in client.get("/manage/spaces/").content.decode()
    assert client.get(f"/spaces/{hit['space'].pk}/restore-to-point/").status_code == 200


@pytest.mark.parametrize("role", ["viewer", "editor", None])
def test_viewers_editors_and_outsiders_are_refused(hit, make_user, role):
    user = make_user(username=f"u-{role}")
    if role:
        Membership.objects.create(space=hit["space"], user=user, role=role)
    client, space = page_client(user), hit["space"]
    assert client.get(f"/spaces/{space.pk}/restore-to-point/").status_code in (403, 404)
    for step in ("preview", "apply"):
        response = client.post(f"/spaces/{space.pk}/restore-to-point/{step}", {"at": hit["at"]}, **HTMX)
        assert response.status_code in (403, 404)
    assert Node.objects.get(pk=hit["node"].pk).name == "plan.txt.locked"


def test_bad_times_and_unknown_folders_are_refused_in_place(alice, hit):
    client, url = page_client(alice), f"/spaces/{hit['space'].pk}/restore-to-point/preview"
    future = local(timezone.now() + timedelta(days=1))
    for form, status, code in [({"at": future}, 400, "time_in_future"), ({"at": "soon"}, 400, "invalid_time"),
                               ({"at": ""}, 400, "invalid_time"),
                               ({"at": hit["at"], "path": "/Nowhere"}, 404, "not_found")]:
        response = client.post(url, form, **HTMX)
        assert response.status_code == status, form
        assert 'role="alert"' in response.content.decode() and (code == "not_found" or code in response.content.decode())


def test_a_queued_restore_shows_its_progress_and_polls(alice, bob, hit):
    from portal.files.services import point_in_time

    space = hit["space"]
    run = point_in_time.point_restore_start(actor=alice, space_id=space.pk, at=hit["at"], queue=True)
    url = f"/spaces/{space.pk}/restore-to-point/runs/{run.pk}"
    fragment = page_client(alice).get(url, **HTMX).content.decode()
    assert 'data-restore-run="queued"' in fragment and f'hx-get="{url}"' in fragment
    assert page_client(bob).get(url, **HTMX).status_code == 404
