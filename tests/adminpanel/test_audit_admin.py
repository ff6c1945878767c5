"""The audit list: filters, search, the detail page's sentence, strictly
read-only, and exports (streamed, and by Celery for large ranges)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.audit import context
from portal.audit.actions import Action
from portal.audit.models import AuditEvent, AuditExport, ExportStatus, Outcome
from portal.audit.services import record
from portal.audit.tasks import export as export_task
from tests.helpers import last_event
from tests.outbox.support import follow_ups

LIST = "/admin/audit/auditevent/"


def _at(event: AuditEvent, when) -> AuditEvent:
    """Backdate an event (tests only; the model refuses updates)."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET created_at = %s WHERE id = %s", [when, event.pk])
    return AuditEvent.objects.get(pk=event.pk)


def _event(action, *, actor=None, label="", ip=None, outcome=Outcome.SUCCESS, space=None, **details):
    token = context.bind(context.RequestContext(ip=ip, user_agent="test"))
    try:
        return record(action=action, actor=actor, target_label=label, outcome=outcome, space=space, details=details)
    finally:
        context.unbind(token)


@pytest.fixture
def log(alice, bob, team):
    now = timezone.now()
    return {
        "old": _at(_event(Action.FILE_DOWNLOADED, actor=alice, label="/Finance/Q1.xlsx", space=team), now - timedelta(days=40)),
        "download": _event(Action.FILE_DOWNLOADED, actor=alice, label="/Finance/Q3.xlsx", ip="10.0.0.7", space=team),
        "failed": _event(Action.LOGIN_FAILED, label="", ip="203.0.113.9", outcome=Outcome.FAILURE),
        "bob": _event(Action.FILE_UPLOADED, actor=bob, label="/Notes/todo.txt"),
    }


def _listed(response) -> set[int]:
    assert response.status_code == 200, response.content[:500]
    return {row.pk for row in response.context["cl"].result_list}


def test_the_list_shows_time_actor_action_target_space_address_outcome_and_a_sentence(admin_client_, log):
    response = admin_client_.get(LIST)
    assert _listed(response) >= {e.pk for e in log.values()}
    html = response.content.decode()
    assert "alice downloaded /Finance/Q3.xlsx from 10.0.0.7" in html
    assert "10.0.0.7" in html and "Team" in html


def test_the_time_range_filter_takes_two_dates(admin_client_, log):
    today = timezone.localdate()
    listed = _listed(admin_client_.get(LIST, {"created_from": (today - timedelta(days=1)).isoformat(),
                                              "created_to": today.isoformat()}))
    assert log["download"].pk in listed and log["old"].pk not in listed
    listed = _listed(admin_client_.get(LIST, {"created_to": (today - timedelta(days=30)).isoformat()}))
    assert log["old"].pk in listed and log["download"].pk not in listed


def test_a_bad_date_is_refused_rather_than_ignored(admin_client_, log):
    response = admin_client_.get(LIST, {"created_from": "yesterday"})
    assert response.status_code == 302 and "e=1" in response["Location"]


def test_filters_by_action_outcome_actor_space_and_address(admin_client_, log, alice, team):
    assert _listed(admin_client_.get(LIST, {"action__exact": Action.LOGIN_FAILED})) >= {log["failed"].pk}
    assert log["download"].pk not in _listed(admin_client_.get(LIST, {"action__exact": Action.LOGIN_FAILED}))
    assert log["failed"].pk in _listed(admin_client_.get(LIST, {"outcome__exact": "failure"}))
    by_alice = _listed(admin_client_.get(LIST, {"actor__id__exact": alice.pk}))
    assert log["download"].pk in by_alice and log["bob"].pk not in by_alice
    in_team = _listed(admin_client_.get(LIST, {"space__id__exact": team.pk}))
    assert log["download"].pk in in_team and log["bob"].pk not in in_team
    assert _listed(admin_client_.get(LIST, {"ip": "203.0.113.9"})) == {log["failed"].pk}


def test_search_finds_paths_names_and_addresses(admin_client_, log):
    assert _listed(admin_client_.get(LIST, {"q": "Q3.xlsx"})) == {log["download"].pk}
    assert log["bob"].pk in _listed(admin_client_.get(LIST, {"q": "bob"}))
    assert _listed(admin_client_.get(LIST, {"q": "203.0.113"})) == {log["failed"].pk}


def test_the_list_costs_the_same_queries_for_many_rows(admin_client_, alice, team):
    for i in range(5):
        _event(Action.FILE_DOWNLOADED, actor=alice, label=f"/a{i}", space=team)
    with CaptureQueriesContext(connection) as few:
        admin_client_.get(LIST)
    for i in range(30):
        _event(Action.FILE_DOWNLOADED, actor=alice, label=f"/b{i}", space=team)
    with CaptureQueriesContext(connection) as many:
        admin_client_.get(LIST)
    assert len(many) == len(few)


def test_the_detail_page_reads_as_a_sentence(admin_client_, log):
    response = admin_client_.get(f"{LIST}{log['download'].pk}/change/")
    assert response.status_code == 200
    assert "alice downloaded /Finance/Q3.xlsx" in response.content.decode()


def test_the_log_cannot_be_added_to_changed_or_deleted_through_the_admin(admin_client_, log):
    event = log["download"]
    assert admin_client_.get(f"{LIST}add/").status_code == 403
    response = admin_client_.post(f"{LIST}{event.pk}/change/", {"action": "x", "target_label": "forged"})
    assert response.status_code == 403
    assert admin_client_.post(f"{LIST}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    response = admin_client_.post(LIST, {"action": "delete_selected", "_selected_action": [event.pk], "index": 0})
    assert response.status_code in (200, 302)
    assert AuditEvent.objects.get(pk=event.pk).target_label == "/Finance/Q3.xlsx"


def test_outsiders_see_no_log(client, alice, log):
    client.force_login(alice)
    assert client.get(LIST).status_code == 302  # to the admin's sign-in


def _body(response) -> str:
    assert response.streaming, "an export is streamed"
    return b"".join(response.streaming_content).decode()


def test_csv_export_streams_the_filtered_rows_and_is_audited(admin_client_, log, root_admin):
    response = admin_client_.get(f"{LIST}export/csv/", {"q": "Finance", "created_from": "2000-01-01"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    assert {int(r["id"]) for r in rows} == {log["download"].pk, log["old"].pk}
    assert {r["target_label"] for r in rows} == {"/Finance/Q3.xlsx", "/Finance/Q1.xlsx"}
    event = last_event(Action.AUDIT_EXPORTED, actor=root_admin)
    assert event.details["format"] == "csv" and event.details["rows"] == 2
    assert event.details["filters"] == {"q": "Finance", "created_from": "2000-01-01", "id__lte": str(event.pk - 1)}


def test_jsonl_export_has_one_object_per_event(admin_client_, log):
    response = admin_client_.get(f"{LIST}export/jsonl/", {"ip": "10.0.0.7"})
    lines = [json.loads(line) for line in _body(response).splitlines()]
    assert [line["id"] for line in lines] == [log["download"].pk]
    assert lines[0]["action"] == "file.downloaded" and lines[0]["ip"] == "10.0.0.7"


def test_csv_cells_that_would_run_as_formulas_are_defused(admin_client_, alice):
    _event(Action.FILE_UPLOADED, actor=alice, label="=HYPERLINK(\"http://evil\")")
    rows = list(csv.DictReader(io.StringIO(_body(admin_client_.get(f"{LIST}export/csv/", {"q": "HYPERLINK"})))))
    assert rows[0]["target_label"].startswith("'=")


def test_an_export_with_an_unknown_filter_is_refused(admin_client_, log):
    response = admin_client_.get(f"{LIST}export/csv/", {"nonsense": "1"})
    assert response.status_code == 302


def test_large_ranges_are_exported_by_celery_to_a_download_link(admin_client_, log, root_admin, settings,
                                                                django_capture_on_commit_callbacks):
    settings.AUDIT_EXPORT_SYNC_MAX = 2
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = admin_client_.get(f"{LIST}export/jsonl/", {"created_from": "2000-01-01"})
    assert response.status_code == 302 and response["Location"].endswith("/admin/audit/auditexport/")
    export = AuditExport.objects.get()
    assert export.status == ExportStatus.PENDING and follow_ups(queued, "audit.export") == [export.pk]
    assert last_event(Action.AUDIT_EXPORTED, actor=root_admin).details["mode"] == "file"

    export_task.apply(args=[export.pk])
    export.refresh_from_db()
    # Everything since 2000 up to the request: not the export's own event, nor anything later.
    record(action=Action.FILE_UPLOADED, target_label="/after.txt")
    export_task.apply(args=[export.pk])  # a retry of a finished export changes nothing
    assert export.status == ExportStatus.DONE and export.rows == AuditEvent.objects.count() - 2
    page = admin_client_.get("/admin/audit/auditexport/").content.decode()
    url = next(part.split('"')[0] for part in page.split('href="')[1:] if "/storage/o/" in part)
    fetched = admin_client_.get(urlparse(url).path)
    body = b"".join(fetched.streaming_content) if fetched.streaming else fetched.content
    ids = {json.loads(line)["id"] for line in body.decode().splitlines()}
    assert {e.pk for e in log.values()} <= ids


def test_the_export_follows_the_none_choice_of_the_space_filter(admin_client_, log):
    listed = _listed(admin_client_.get(LIST, {"space__isnull": "True"}))
    body = _body(admin_client_.get(f"{LIST}export/jsonl/", {"space__isnull": "True"}))
    exported = {json.loads(line)["id"] for line in body.splitlines()}
    assert log["bob"].pk in listed and log["download"].pk not in listed
    assert exported == listed


def test_the_list_neither_counts_a_big_log_nor_reads_its_actions(admin_client_, alice, team, monkeypatch):
    """At 100 million events an exact count and a DISTINCT over the actions cost seconds per page: "By action"
    offers every known action (even one not logged yet), and past a threshold the total is the planner's
    estimate; the rows and the filter are still exact."""
    from portal.audit.admin import EstimatedCountPaginator

    download = _event(Action.FILE_DOWNLOADED, actor=alice, label="/a", space=team)
    monkeypatch.setattr(EstimatedCountPaginator, "ESTIMATE_ABOVE", -1)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client_.get(LIST)
    sent = [query["sql"].upper() for query in queries]
    assert not any("DISTINCT" in sql or "COUNT(" in sql for sql in sent), sent
    assert any(sql.startswith("EXPLAIN") for sql in sent)
    page = response.content.decode()
    assert f"?action={Action.SHARE_REVOKED.value}" in page  # never logged here, offered all the same
    assert download.pk in _listed(response)
    assert _listed(admin_client_.get(LIST, {"action": Action.FILE_DOWNLOADED})) == {download.pk}
    assert _listed(admin_client_.get(LIST, {"action": Action.LOGIN_FAILED})) == set()


def test_a_small_filtered_list_is_counted_exactly(admin_client_, alice, team):
    for i in range(3):
        _event(Action.FILE_UPLOADED, actor=alice, label=f"/u{i}", space=team)
    assert admin_client_.get(LIST, {"action": Action.FILE_UPLOADED}).context["cl"].result_count == 3
