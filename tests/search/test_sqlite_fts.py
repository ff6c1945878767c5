"""SQLITE-SPECIFIC: the embedded default runs search on SQLite's FTS5 table
(the suite itself runs on PostgreSQL). Like tests/test_embedded_run.py, it
runs on SQLite on purpose: a subprocess with no PORTAL_DATABASE_URL migrates
a fresh SQLite database, stores files through the real services (Celery
tasks run in that process: scan, then text extraction), and searches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import io, json
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from portal.celery import app
app.conf.task_always_eager = True
call_command("migrate", verbosity=0)
from portal.storage import get_store
get_store().ensure_bucket()
from portal.accounts.models import User
from portal.files.services import tree
from portal.files.services.direct import file_put
from portal.files.selectors import locate_path
from portal.search import query, selectors
from portal.search.query import Filters, terms_of
from portal.search.services import star_toggle
from portal.spaces.services import member_add, space_create

alice = User.objects.create_user("alice", "alice@example.com", "pw-alice-123456")
bob = User.objects.create_user("bob", "bob@example.com", "pw-bob-123456")
carol = User.objects.create_user("carol", "carol@example.com", "pw-carol-123456")
team = space_create(actor=alice, name="Finance")
member_add(actor=alice, space_id=team.pk, username="bob", role="viewer")
board = space_create(actor=carol, name="Board")

def put(user, space, path, data):
    return file_put(actor=user, space_id=space.pk, path=path, fileobj=io.BytesIO(data), size=len(data))

put(alice, team, "/Reports/说明.txt", "本文件是2024年季度财务报告。".encode())
put(alice, team, "/Quarterly-Report_v2.md", b"the annual budget forecast")
put(alice, team, "/budget.xlsx", b"x")
put(alice, team, "/Old/roadmap.txt", b"x")
put(carol, board, "/merger report.txt", b"acquisition budget")
tree.node_trash(actor=alice, node_id=locate_path(alice, team.pk, "/Old").node.pk)

def names(user, q, **filters):
    return [hit.name for hit in query.search(user, terms_of(q), Filters(**filters))]

star_toggle(actor=bob, node_id=locate_path(bob, team.pk, "/budget.xlsx").node.pk)
print(json.dumps({
    "vendor": connection.vendor,
    "chinese": names(alice, "财务 报告"),
    "by_path": names(alice, "reports"),
    "content": names(alice, "budget forecast"),
    "typing": names(alice, "quarterly rep"),
    "ranked": names(alice, "budget"),
    "outsider": names(bob, "acquisition"),
    "carol": names(carol, "acquisition"),
    "trashed": names(alice, "roadmap"),
    "type_filter": names(alice, "budget", file_type="document"),
    "count": query.count(alice, terms_of("budget"), Filters()),
    "starred": [hit.name for hit, _ in selectors.starred_list(bob)],
    "recent": [hit.name for hit, _ in selectors.recent_list(alice)][:2],
    "aware": all(hit.modified_at.tzinfo is not None for hit in query.search(alice, terms_of("budget"))),
}))
"""


def test_search_on_the_embedded_sqlite_database_uses_fts5(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("PORTAL_DATABASE_URL", "PORTAL_REDIS_URL")}
    (tmp_path / "var" / "static").mkdir(parents=True)
    env.update({"PORTAL_VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "portal.settings",
                "PORTAL_STORAGE": "local"})
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["vendor"] == "sqlite"
    assert found["chinese"] == ["说明.txt"]
    assert found["by_path"] == ["Reports", "说明.txt"]
    assert found["content"] == ["Quarterly-Report_v2.md"]
    assert found["typing"] == ["Quarterly-Report_v2.md"]
    assert found["ranked"] == ["budget.xlsx", "Quarterly-Report_v2.md"]
    assert found["outsider"] == [] and found["carol"] == ["merger report.txt"]
    assert found["trashed"] == []
    assert found["type_filter"] == ["budget.xlsx"] and found["count"] == 2 and found["aware"]
    assert found["starred"] == ["budget.xlsx"]
    assert found["recent"] == ["budget.xlsx", "Quarterly-Report_v2.md"], found["recent"]   # roadmap: in the trash
