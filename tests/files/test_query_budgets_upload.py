"""Query budgets of an upload through the API, pinned at every depth from 1
to 20 folders: the path is walked once per step (one recursive query), never
one query per folder, so a deep file costs what a shallow one does.

Counted as production runs them: the test's own transaction wrapper makes
each service's transaction a savepoint, so SAVEPOINT / RELEASE statements
are left out of the count (in production they are BEGIN / COMMIT)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.files.models import Node, NodeKind
from portal.files.selectors import space_root

pytestmark = pytest.mark.django_db

# The budgets are 8 and 15 per request; a client signing with a token
# spends one of them on the token lookup (force_authenticate here spends none).
START_BUDGET = 8 - 1
COMPLETE_BUDGET = 15 - 1
DEPTHS = range(1, 21)


def _queries(context: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in context.captured_queries
            if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def _counted(call):
    with CaptureQueriesContext(connection) as context:
        response = call()
    return response, _queries(context)


@pytest.mark.parametrize("existing", [False, True], ids=["new file", "new version"])
def test_an_upload_costs_the_same_few_queries_at_every_depth(api, alice, team, upload, existing):
    client = api.as_user(alice)
    counts = {}
    for depth in DEPTHS:
        path = "/" + "/".join(_folder_chain_prefix(team, depth)) + "/file.txt"
        if existing:
            upload(client, team, path, b"first")
        started, start_sql = _counted(lambda: upload.start(client, team, path, b"hello"))
        assert started.status_code == 201, started.content
        upload.send(client, started.json(), b"hello")
        done, complete_sql = _counted(lambda: upload.complete(client, started.json()["id"]))
        assert done.status_code == 201, done.content
        assert done.json()["path"] == path and done.json()["version"] == (2 if existing else 1)
        assert len(start_sql) <= START_BUDGET, "\n".join(start_sql)
        assert len(complete_sql) <= COMPLETE_BUDGET, "\n".join(complete_sql)
        counts[depth] = (len(start_sql), len(complete_sql))
    assert len(set(counts.values())) == 1, f"the cost grows with depth: {counts}"


def _folder_chain_prefix(space, depth: int) -> list[str]:
    """Folders level-00 .. level-<depth-1>, reusing the ones made for shallower depths."""
    names = [f"level-{level:02d}" for level in range(depth)]
    parent = space_root(space)
    for name in names:
        parent, _ = Node.objects.get_or_create(space=space, parent=parent, name_key=name, trashed_at=None,
                                               defaults={"kind": NodeKind.FOLDER, "name": name})
    return names


@pytest.mark.django_db(transaction=True)
def test_a_committed_upload_stays_within_its_budgets_with_its_follow_ups_written(api, alice, team, upload):
    """As production commits it: the outbox row of the follow-ups (hash, scan) is written just
    before COMMIT, which the test's transaction wrapper above never reaches. BEGIN and COMMIT
    themselves are not counted."""
    client = api.as_user(alice)
    path = "/" + "/".join(_folder_chain_prefix(team, 5)) + "/file.txt"
    upload(client, team, path, b"first")
    started = upload.start(client, team, path, b"hello")
    upload.send(client, started.json(), b"hello")
    with CaptureQueriesContext(connection) as context:
        done = upload.complete(client, started.json()["id"])
    assert done.status_code == 201, done.content
    statements = [q["sql"] for q in context.captured_queries if q["sql"].upper() not in ("BEGIN", "COMMIT")]
    assert any("outbox_outboxmessage" in sql for sql in statements), "\n".join(statements)
    assert len(statements) <= COMPLETE_BUDGET, "\n".join(statements)
