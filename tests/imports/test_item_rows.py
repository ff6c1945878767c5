"""The listing's items go in with one INSERT ... unnest (portal.core.bulk.rows_insert): every value
as given (keys, aware times, choices, NULLs), a resumed listing's repeated paths skipped."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from portal.core.bulk import rows_insert
from portal.imports import services
from portal.imports.models import ImportItem, Outcome
from tests.imports.conftest import when

pytestmark = pytest.mark.django_db
FIELDS = ["run", "path", "size", "mtime", "etag", "outcome", "error", "version"]


@pytest.fixture
def run(boss, space, roots):
    job = services.import_job_create(actor=boss, space_id=space.pk, target="/Old", source_kind="folder",
                                     source={"path": str(roots)})
    return services.import_run_start(actor=boss, job_id=job.pk, dry_run=False, queue=False)


def test_rows_go_in_with_every_value_in_one_statement(run):
    rows = [(run.pk, "a/\u5408\u540c.pdf", 5, when(2020, 4, 2), "e1", Outcome.PENDING, "", None),
            (run.pk, "b.txt", 0, None, "", Outcome.FAILED, "refused: a name", None)]
    with CaptureQueriesContext(connection) as queries:
        rows_insert(ImportItem, FIELDS, rows)
    assert len(queries) == 1
    got = list(ImportItem.objects.filter(run=run).order_by("path").values_list(
        "path", "size", "mtime", "etag", "outcome", "error", "version_id"))
    assert got == [("a/\u5408\u540c.pdf", 5, when(2020, 4, 2), "e1", "pending", "", None),
                   ("b.txt", 0, None, "", "failed", "refused: a name", None)]


def test_a_repeated_path_is_skipped_only_when_asked(run):
    rows_insert(ImportItem, FIELDS, [(run.pk, "a", 1, None, "", Outcome.PENDING, "", None)])
    again = [(run.pk, "a", 99, None, "", Outcome.PENDING, "", None), (run.pk, "b", 2, None, "", Outcome.PENDING, "", None)]
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_insert(ImportItem, FIELDS, again)
    rows_insert(ImportItem, FIELDS, again, ignore_conflicts=True)
    assert dict(ImportItem.objects.filter(run=run).values_list("path", "size")) == {"a": 1, "b": 2}
    rows_insert(ImportItem, FIELDS, [])  # nothing to insert: no statement, no error
