"""A SCIM client for the tests: the bearer token of a token an administrator
created, JSON bodies sent as application/scim+json."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from portal.people.scim.services import scim_token_create

BASE = "http://testserver/scim/v2"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class Scim:
    def __init__(self, token: str | None):
        self.client = Client()
        self.token = token

    def _headers(self, token):
        token = self.token if token is ... else token
        return {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def request(self, method: str, path: str, body=None, *, token=..., raw: bytes | None = None, query=None,
                **extra):
        if method == "GET":
            response = self.client.get(f"/scim/v2{path}", data=query or {}, **self._headers(token), **extra)
        else:
            data = raw if raw is not None else (json.dumps(body) if body is not None else "")
            response = getattr(self.client, method.lower())(
                f"/scim/v2{path}", data=data, content_type="application/scim+json", **self._headers(token), **extra)
        response.body = json.loads(response.content) if response.content else None
        return response

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, operations, **kw):
        return self.request("PATCH", path, {"schemas": [PATCH], "Operations": operations}, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture
def scim(admin):
    """Okta's connection: a token named "okta" made by an administrator."""
    _, plaintext = scim_token_create(actor=admin, name="okta")
    return Scim(plaintext)


def assert_error(response, status: int, scim_type: str | None = None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/scim+json")
    assert response.body["schemas"] == [ERROR]
    assert response.body["status"] == str(status)
    assert response.body["detail"]
    if scim_type:
        assert response.body.get("scimType") == scim_type, response.body


def bjensen(scim, **extra):
    """RFC 7644 §3.3's user, created."""
    body = {"schemas": [USER], "userName": "bjensen", "externalId": "bjensen",
            "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"},
            **extra}
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.content
    return response.body
