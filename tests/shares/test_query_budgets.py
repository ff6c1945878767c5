"""Query budgets of a share link's public answers, at every depth 1..20:
a page costs at most 3 queries, a download at most 4, whether the link
shares the file itself (2 and 3: the link's query brings the file) or a
folder the file is in. A password answer costs
2 when wrong and 6 when right (the link, the unlock event, and Django's
session: a key check, then BEGIN, INSERT, COMMIT).

Counted on real transactions (``transaction=True``), as in production: no
test-case savepoints around each write."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.audit.actions import Action
from tests.helpers import events
from tests.shares.conftest import PASSWORD, row

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DEPTHS = range(1, 21)
PAGE, DOWNLOAD = 3, 4


@pytest.fixture
def chain(signed_in, alice, team, upload):
    """/d1/f1.bin, /d1/d2/f2.bin, ... /d1/.../d20/f20.bin: a file at every depth (not text, so
    its page shows no text preview, which would count a preview too)."""
    client = signed_in(alice)
    files, folders = {}, []
    for depth in DEPTHS:
        folders.append(f"d{depth}")
        files[depth] = upload(client, team, "/" + "/".join([*folders, f"f{depth}.bin"]), b"x" * depth)
    return files


def counted(browser, url: str, *, expect: int):
    with CaptureQueriesContext(connection) as queries:
        response = browser.get(url)
    assert response.status_code == expect, response.content
    if response.streaming:
        b"".join(response.streaming_content)
    return [query["sql"] for query in queries.captured_queries]


def within(queries: list[str], budget: int, what: str) -> None:
    assert len(queries) <= budget, f"{what}: {len(queries)} queries\n" + "\n".join(q[:200] for q in queries)


def test_a_shared_file_costs_two_queries_to_show_and_three_to_download_at_every_depth(chain, share, visitor):
    browser = visitor()
    for depth, meta in chain.items():
        token = share(meta["id"])["token"]
        within(counted(browser, f"/s/{token}", expect=200), PAGE - 1, f"page at depth {depth}")
        within(counted(browser, f"/s/{token}/download", expect=200), DOWNLOAD - 1, f"download at depth {depth}")
    assert len(events(Action.SHARE_VIEWED)) == len(events(Action.SHARE_DOWNLOADED)) == len(DEPTHS)


def test_a_file_inside_a_shared_folder_costs_the_same_at_every_depth(chain, share, visitor, team):
    from portal.files.selectors import node_at

    link = share(node_at(team, ["d1"])[0].pk)
    browser, inner = visitor(), []
    for depth in DEPTHS:
        path = "/".join([*[f"d{d}" for d in range(2, depth + 1)], f"f{depth}.bin"])
        within(counted(browser, f"/s/{link['token']}/f/{path}", expect=200), PAGE, f"page at depth {depth}")
        within(counted(browser, f"/s/{link['token']}/download/{path}", expect=200), DOWNLOAD,
               f"download at depth {depth}")
        inner.append(path)
    assert row(link).download_count == len(DEPTHS)
    labels = [event.target_label for event in events(Action.SHARE_DOWNLOADED)]
    assert labels == [f"link {link['id']} on /d1/{path}" for path in inner]


def test_a_password_answer_costs_two_queries_when_wrong_and_six_when_right(chain, share, visitor):
    link = share(chain[20]["id"], password=PASSWORD)
    browser = visitor()
    with CaptureQueriesContext(connection) as wrong:
        assert browser.post(f"/s/{link['token']}", {"password": "not the password"}).status_code == 403
    within([q["sql"] for q in wrong.captured_queries], 2, "wrong password")
    with CaptureQueriesContext(connection) as right:
        assert browser.post(f"/s/{link['token']}", {"password": PASSWORD}).status_code == 303
    within([q["sql"] for q in right.captured_queries], 6, "right password")
    label = f"link {link['id']} on /" + "/".join([f"d{d}" for d in DEPTHS] + ["f20.bin"])
    assert [e.target_label for e in events(Action.SHARE_PASSWORD_FAILED)] == [label]
    assert [e.target_label for e in events(Action.SHARE_UNLOCKED)] == [label]
    # Unlocked, a download adds only the session's read.
    within(counted(browser, f"/s/{link['token']}/download", expect=200), DOWNLOAD, "unlocked download")
