"""What the OpenAPI schema promises integrators, checked on the generated document itself
(the answers are checked against it by test_schema_conformance.py)."""

import json

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from portal.core.ids import INT64_MAX


@pytest.fixture(scope="module")
def document():
    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


def _operations(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def _json_schema(response):
    return response.get("content", {}).get("application/json", {}).get("schema", {})


def test_no_list_is_documented_as_a_bare_array(document):
    bare = [(method, path) for path, method, operation in _operations(document)
            for status, response in operation["responses"].items()
            if status.startswith("2") and _json_schema(response).get("type") == "array"]
    assert bare == []


def test_paginated_lists_document_the_envelope(document):
    schemas = document["components"]["schemas"]
    spaces = _json_schema(document["paths"]["/api/v1/spaces/"]["get"]["responses"]["200"])
    envelope = schemas[spaces["$ref"].rsplit("/", 1)[1]]
    assert set(envelope["properties"]) == {"count", "next", "previous", "results"}
    assert envelope["properties"]["next"]["nullable"] is True
    parameters = {p["name"] for p in document["paths"]["/api/v1/spaces/"]["get"]["parameters"]}
    assert {"page", "page_size"} <= parameters


def test_every_api_operation_documents_its_errors_in_the_one_error_shape(document):
    error = document["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message", "detail"}
    for path, method, operation in _operations(document):
        if not path.startswith("/api/v1/"):
            continue
        responses = operation["responses"]
        assert "503" in responses, (method, path)
        for status, response in responses.items():
            if status >= "400" and "content" in response:
                assert _json_schema(response) == {"$ref": "#/components/schemas/Error"}, (method, path, status)
    member = document["paths"]["/api/v1/spaces/{space_id}/members/{user_id}/"]["delete"]["responses"]
    assert {"401", "403", "404", "409"} <= set(member)


def test_downloads_are_documented_as_bytes_and_the_redirect(document):
    content = document["paths"]["/api/v1/files/{node_id}/content"]["get"]["responses"]
    assert "*/*" in content["200"]["content"] and "302" in content and "206" in content
    for path in ["/api/v1/spaces/{space_id}/zip", "/api/v1/devices/{device_id}/snapshots/{snapshot_id}/zip"]:
        assert list(document["paths"][path]["get"]["responses"]["200"]["content"]) == ["application/zip"]


def test_path_ids_are_documented_with_their_64_bit_bound(document):
    parameters = document["paths"]["/api/v1/spaces/{space_id}/members/{user_id}/"]["delete"]["parameters"]
    for parameter in parameters:
        assert parameter["schema"]["maximum"] == INT64_MAX


def test_a_folder_listing_and_a_file_are_both_documented_for_the_tree(document):
    answer = _json_schema(document["paths"]["/api/v1/spaces/{space_id}/tree"]["get"]["responses"]["200"])
    variants = document["components"]["schemas"][answer["$ref"].rsplit("/", 1)[1]]["oneOf"]
    assert {v["$ref"].rsplit("/", 1)[1] for v in variants} == {"FolderListingOut", "NodeOut"}


def test_request_bodies_are_documented_as_json_only(document):
    # Three encodings of one model give openapi-python-client a body argument that does not run.
    encodings = {tuple(operation["requestBody"]["content"]) for _path, _method, operation in _operations(document)
                 if "requestBody" in operation}
    assert encodings == {("application/json",)}
