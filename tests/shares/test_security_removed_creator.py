"""A member removed from a space keeps nothing of it through the links they
made there: over real HTTP (their own token), the link, its access log and
the file's current path are gone from their view, and they cannot change the
link (visitors already get 410 once its creator may no longer read the file)."""

from __future__ import annotations

import pytest
import requests

from portal.accounts.services import token_issue
from portal.spaces.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_removed_member_no_longer_sees_or_edits_their_links_or_where_the_file_went(
        live_server, team, alice, make_user, signed_in, upload):
    bob = make_user(username="bob")
    Membership.objects.create(space=team, user=bob, role="editor")
    node = upload(signed_in(alice), team, "/plan.txt", b"plan\n")
    _, token = token_issue(actor=bob, owner=bob, name="script")
    as_bob = requests.Session()
    as_bob.headers["Authorization"] = f"Bearer {token}"
    link = as_bob.post(f"{live_server.url}/api/v1/shares", json={"node": node["id"], "permission": "download"})
    assert link.status_code == 201, link.text
    link_id = link.json()["id"]

    owner = signed_in(alice)
    assert owner.delete(f"/api/v1/spaces/{team.pk}/members/{bob.pk}/").status_code == 204
    assert owner.post(f"/api/v1/spaces/{team.pk}/folders", {"path": "/Board"}, format="json").status_code == 201
    assert owner.post(f"/api/v1/files/{node['id']}/move", {"path": "/Board/layoffs.txt"},
                      format="json").status_code == 200

    detail = as_bob.get(f"{live_server.url}/api/v1/shares/{link_id}")
    accesses = as_bob.get(f"{live_server.url}/api/v1/shares/{link_id}/accesses")
    edit = as_bob.patch(f"{live_server.url}/api/v1/shares/{link_id}", json={"max_downloads": 5})
    listed = as_bob.get(f"{live_server.url}/api/v1/shares").json()["results"]
    assert (detail.status_code, accesses.status_code, edit.status_code) == (404, 404, 404)
    assert "layoffs" not in str(listed)
