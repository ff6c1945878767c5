"""Every integer a client names (path, query, body) fits a 64-bit column: a number past 2**63
is a 404 or a 400, never a database error (a 500)."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter
from rest_framework import serializers

from portal.core.ids import IdConverter
from portal.spaces import services as space_services
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

HUGE = [2**63, 2**64, 100795141236486914048]
METHODS = ["get", "post", "put", "patch", "delete"]


def _routes(resolvers=None, prefix=""):
    """(route text, converters) of every URL pattern, nested includes flattened."""
    for entry in resolvers if resolvers is not None else get_resolver().url_patterns:
        text = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, text)
        elif isinstance(entry, URLPattern):
            yield text, getattr(entry.pattern, "converters", {})


def _api_routes_with_ids():
    """The /api/v1/ routes that name an integer, written with ``{name}`` placeholders."""
    import re

    found = []
    for text, converters in _routes():
        if not text.startswith("api/v1/"):
            continue
        names = [name for name, conv in converters.items() if isinstance(conv, IdConverter)]
        names += re.findall(r"\(\?P<(\w+_id)>\[0-9\]", text)
        if names:
            route = re.sub(r"<(\w+):(\w+)>", r"{\2}", text)
            route = re.sub(r"\^|\$|\(\?:/\(\?P<path>\.\*\)\)\?", "", route)
            route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
            found.append((route, names))
    return found


def test_no_route_takes_an_unbounded_int():
    # admin/ is Django's and django-otp's own (staff only, and their views look ids up safely)
    unbounded = [text for text, converters in _routes() if not text.startswith("admin/")
                 and any(isinstance(conv, IntConverter) for conv in converters.values())]
    assert unbounded == []
    assert len(_api_routes_with_ids()) > 30  # the walk finds the API's routes


def test_every_integer_field_of_every_api_serializer_is_bounded():
    from tests.api.test_security_strict_booleans import _all_serializers

    unbounded = [f"{cls.__module__}.{cls.__name__}.{name}" for cls in _all_serializers()
                 for name, field in cls._declared_fields.items()
                 if isinstance(field, serializers.IntegerField) and field.max_value is None]
    assert unbounded == []


@pytest.fixture
def owner_api(api, alice):
    space = space_services.space_create(actor=alice, name="Bounds")
    client = api.as_user(alice)
    client.space = space
    return client


@pytest.mark.parametrize("route,names", _api_routes_with_ids(), ids=lambda v: v if isinstance(v, str) else "")
def test_an_id_past_64_bits_is_not_found_on_every_api_route(owner_api, route, names):
    for huge in HUGE[:2]:
        for name in names:
            # one id past the range, the others real (the owner's own space where a space is named)
            values = {other: (owner_api.space.pk if other == "space_id" else 1) for other in names}
            values[name] = huge
            url = "/" + route.replace("{path}", "x").format(**values)
            for method in METHODS:
                response = getattr(owner_api, method)(url, {}, format="json")
                assert response.status_code in (404, 405), (method, url, response.status_code)


def test_the_reported_member_removal_with_a_huge_id_is_a_404(owner_api):
    response = owner_api.delete(f"/api/v1/spaces/{owner_api.space.pk}/members/100795141236486914048/")
    assert_error(response, 404, "not_found")


def test_a_web_page_with_a_huge_id_is_not_found(client, alice):
    client.force_login(alice)
    assert client.get(f"/spaces/{2**64}/").status_code == 404


@pytest.mark.parametrize("huge", HUGE)
def test_a_huge_id_in_a_body_is_invalid_input(owner_api, huge):
    space = owner_api.space.pk
    cases = [("post", f"/api/v1/spaces/{space}/members/", {"user_id": huge, "role": "viewer"}),
             ("post", f"/api/v1/spaces/{space}/groups/", {"group_id": huge, "role": "viewer"}),
             ("post", "/api/v1/shares", {"node": huge}),
             ("post", "/api/v1/uploads", {"space": huge, "path": "a.txt", "size": 1}),
             ("post", "/api/v1/tokens/", {"name": "ci", "days": huge}),
             ("patch", f"/api/v1/spaces/{space}/", {"keep_versions": huge})]
    for method, url, body in cases:
        response = getattr(owner_api, method)(url, body, format="json")
        assert response.status_code == 400, (url, response.content)
        assert_error(response, 400, "invalid_input")


@pytest.mark.parametrize("huge", HUGE)
def test_a_huge_integer_in_a_query_is_refused_not_a_500(owner_api, huge):
    for url in [f"/api/v1/shares?space={huge}", f"/api/v1/uploads/x?parts={huge}",
                f"/api/v1/spaces/?page={huge}"]:
        response = owner_api.get(url)
        assert response.status_code in (400, 404), (url, response.status_code)
        assert set(response.json()) == {"code", "message", "detail"}
