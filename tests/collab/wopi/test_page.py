"""The Open in office page, and the WOPI endpoints in the OpenAPI schema."""

from __future__ import annotations

import pytest

from portal.audit.models import AuditEvent
from portal.collab.wopi.models import WopiToken
from tests.collab.wopi.conftest import put

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_page_posts_a_fresh_token_into_the_editor_frame(office, client, alice, team):
    node = put(alice, team, "report.docx", b"PK").node
    client.force_login(alice)
    response = client.get(f"/office/{node.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'target="office-frame"' in html and 'name="access_token"' in html and 'name="access_token_ttl"' in html
    assert "WOPISrc=http" in html and f"%2Fwopi%2Ffiles%2F{node.pk}" in html
    assert "frame-src https://office.invalid" in response["Content-Security-Policy"]
    assert "form-action 'self' https://office.invalid" in response["Content-Security-Policy"]
    row = WopiToken.objects.get(node=node, user=alice)
    assert row.can_write is True
    assert AuditEvent.objects.filter(action="wopi.token_issued", target_id=str(node.pk)).count() == 1


def test_an_outsider_gets_404_and_no_token(office, client, alice, bob, team):
    node = put(alice, team, "report.docx", b"PK").node
    client.force_login(bob)
    assert client.get(f"/office/{node.pk}/").status_code == 404
    assert not WopiToken.objects.exists()


def test_a_folder_or_an_unknown_type_has_no_office_page(office, client, alice, team):
    node = put(alice, team, "Docs/data.bin", b"x").node
    client.force_login(alice)
    assert client.get(f"/office/{node.parent_id}/").status_code == 400
    assert client.get(f"/office/{node.pk}/").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(office, client, alice, team):
    node = put(alice, team, "report.docx", b"PK").node
    response = client.get(f"/office/{node.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_openapi_schema_documents_the_wopi_endpoints(api, alice):
    response = api.as_user(alice).get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/wopi/files/{file_id}" in paths and "/wopi/files/{file_id}/contents" in paths
    operations = {op["operationId"] for path in ("/wopi/files/{file_id}", "/wopi/files/{file_id}/contents")
                  for op in paths[path].values() if isinstance(op, dict) and "operationId" in op}
    assert operations == {"wopi_check_file_info", "wopi_file_operation", "wopi_get_file", "wopi_put_file"}


def test_a_viewer_gets_the_view_action_and_a_read_only_token(office, client, alice, bob, team):
    from tests.collab.wopi.conftest import join

    node = put(alice, team, "report.docx", b"PK").node
    join(team, alice, bob, "viewer")
    client.force_login(bob)
    response = client.get(f"/office/{node.pk}/")
    assert response.status_code == 200
    assert response.context["action"] == "view"
    assert WopiToken.objects.get(node=node, user=bob).can_write is False
