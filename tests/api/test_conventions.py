import pytest

from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def test_an_unknown_api_route_answers_in_the_error_shape(client):
    assert_error(client.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_a_wrong_method_answers_in_the_error_shape(api, alice):
    assert_error(api.as_user(alice).put("/api/v1/spaces/", {}, format="json"), 405, "method_not_allowed")


def test_a_non_json_body_is_refused_with_a_clear_error(api, alice):
    response = api.as_user(alice).post("/api/v1/spaces/", "name=x", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_the_openapi_schema_documents_the_api(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ["/api/v1/spaces/", "/api/v1/spaces/{space_id}/", "/api/v1/spaces/{space_id}/members/",
                 "/api/v1/tokens/"]:
        assert path in paths
    # Each way to authenticate is described (the extensions load with the API's views, not at start).
    schemes = response.json()["components"]["securitySchemes"]
    assert {"bearerToken", "deviceToken"} <= set(schemes) and schemes["deviceToken"]["scheme"] == "bearer"
    assert {"deviceToken": []} in paths["/api/v1/backup/device"]["get"]["security"]


def test_the_api_docs_page_loads_its_assets_from_the_portal_not_a_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


def test_session_api_writes_need_a_csrf_token(alice):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    response = browser.post("/api/v1/spaces/", {"name": "X"}, content_type="application/json")
    assert_error(response, 403, "forbidden")
    assert "CSRF" in response.json()["message"]


def test_pages_send_nosniff_and_deny_framing(client):
    response = client.get("/accounts/login/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
