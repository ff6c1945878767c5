"""GET /api/v1/search: results, access, bad input, paging."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]
URL = "/api/v1/search"


def test_search_answers_ranked_hits_with_their_place(alice, team, put, signed_in):
    put(alice, team, "/Reports/季度财务报告.txt", "营收增长".encode())
    answer = signed_in(alice).get(URL, {"q": "财务 报告"})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["count"] == 1
    hit = body["results"][0]
    assert hit["name"] == "季度财务报告.txt" and hit["path"] == "/Reports/季度财务报告.txt"
    assert hit["folder"] == "/Reports" and hit["space"] == team.pk and hit["space_name"] == "Finance"
    assert hit["type"] == "text" and hit["kind"] == "file" and hit["size"] == len("营收增长".encode())
    assert signed_in(alice).get(URL, {"q": "营收"}).json()["results"][0]["rank"] == 4


def test_an_outsider_finds_nothing_and_gets_404_for_a_space_filter(alice, team, put, secret, signed_in):
    board, carol = secret
    put(carol, board, "/merger.txt", b"acquisition")
    outsider = signed_in(alice)
    assert outsider.get(URL, {"q": "acquisition"}).json() == {"count": 0, "next": None, "previous": None,
                                                               "results": []}
    refused = outsider.get(URL, {"q": "acquisition", "space": board.pk})
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    assert signed_in(carol).get(URL, {"q": "acquisition"}).json()["count"] == 1


@pytest.mark.parametrize("params, field", [
    ({}, "q"), ({"q": "  ...  "}, "q"), ({"q": "x" * 201}, "q"), ({"q": "a", "type": "spreadsheet"}, "type"),
    ({"q": "a", "size_min": "-1"}, "size_min"), ({"q": "a", "size_max": "1 parsec"}, "size_max"),
    ({"q": "a", "modified_after": "yesterday"}, "modified_after"),
    ({"q": "a", "modified_before": "2024-13-45"}, "modified_before"),
])
def test_bad_input_is_400_naming_the_field(alice, signed_in, params, field):
    answer = signed_in(alice).get(URL, params)
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == f"invalid_{field}" and answer.json()["detail"]["field"] == field


def test_an_anonymous_caller_is_refused(api):
    assert api.get(URL, {"q": "report"}).status_code in (401, 403)


def test_filters_and_pages(alice, team, put, signed_in):
    for number in range(3):
        put(alice, team, f"/memo {number}.txt", b"x")
    put(alice, team, "/memo.pdf", b"%PDF-1.4 not a real one")
    client = signed_in(alice)
    first = client.get(URL, {"q": "memo", "page_size": 2}).json()
    assert first["count"] == 4 and len(first["results"]) == 2 and first["next"]
    second = client.get(URL, {"q": "memo", "page_size": 2, "page": 2}).json()
    assert {hit["name"] for hit in first["results"] + second["results"]} == \
        {"memo 0.txt", "memo 1.txt", "memo 2.txt", "memo.pdf"}
    only_pdf = client.get(URL, {"q": "memo", "type": "pdf", "space": team.pk, "modified_after": "2000-01-01",
                                "size_max": 1000, "owner": "ALICE"}).json()
    assert [hit["name"] for hit in only_pdf["results"]] == ["memo.pdf"]
    assert client.get(URL, {"q": "memo", "owner": "nobody-at-all"}).json()["count"] == 0


def test_the_schema_documents_the_endpoint(alice, signed_in):
    schema = signed_in(alice).get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/search"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"q", "space", "type", "modified_after", "owner", "page"}
