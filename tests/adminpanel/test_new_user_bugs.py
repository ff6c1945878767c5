"""Admin bugs a new user found (issue 14): the audit export follows the
sidebar's "By action" filter and carries the space's name and the readable
sentence; the audit list's sentence comes second and wraps; proper plurals,
"blocked hashes", and one dashboard heading."""

from __future__ import annotations

import csv
import io
import json
import re

from portal.audit import context
from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.audit.services import record
from portal.locks.models import Lock

LIST = "/admin/audit/auditevent/"


def _event(action, *, actor=None, label="", ip=None, space=None):
    token = context.bind(context.RequestContext(ip=ip, user_agent="test"))
    try:
        return record(action=action, actor=actor, target_label=label, space=space)
    finally:
        context.unbind(token)


def _body(response) -> str:
    assert response.status_code == 200, response.get("Location")
    return b"".join(response.streaming_content).decode()


def test_the_sidebars_by_action_filter_is_a_parameter_the_export_accepts(admin_client_, alice, team):
    download = _event(Action.FILE_DOWNLOADED, actor=alice, label="/Q3.xlsx", space=team, ip="10.0.0.7")
    _event(Action.FILE_UPLOADED, actor=alice, label="/Q4.xlsx", space=team)
    listing = admin_client_.get(LIST).content.decode()
    assert "?action=file.downloaded" in listing, "the sidebar's link is what the export must take"
    filtered = admin_client_.get(LIST, {"action": "file.downloaded"})
    assert {row.pk for row in filtered.context["cl"].result_list} == {download.pk}
    rows = list(csv.DictReader(io.StringIO(_body(admin_client_.get(f"{LIST}export/csv/",
                                                                    {"action": "file.downloaded"})))))
    assert [int(row["id"]) for row in rows] == [download.pk]


def test_the_csv_export_names_the_space_and_says_what_happened(admin_client_, alice, team):
    download = _event(Action.FILE_DOWNLOADED, actor=alice, label="/Finance/Q3.xlsx", space=team, ip="10.0.0.7")
    system = _event(Action.LOGIN_FAILED, label="mallory", ip="203.0.113.9")
    rows = {int(row["id"]): row for row in csv.DictReader(io.StringIO(_body(
        admin_client_.get(f"{LIST}export/csv/", {"created_from": "2000-01-01"}))))}
    assert rows[download.pk]["space"] == "Team" and rows[download.pk]["space_id"] == str(team.pk)
    assert rows[download.pk]["sentence"] == "alice downloaded /Finance/Q3.xlsx from 10.0.0.7"
    assert rows[system.pk]["space"] == "" and rows[system.pk]["sentence"]
    lines = [json.loads(line) for line in _body(admin_client_.get(f"{LIST}export/jsonl/", {"ip": "10.0.0.7"}))
             .splitlines()]
    assert lines[0]["space"] == "Team" and lines[0]["sentence"].startswith("alice downloaded")


def test_an_unknown_action_filter_value_exports_nothing_and_a_bad_parameter_is_refused(admin_client_, alice,
                                                                                      team):
    _event(Action.FILE_DOWNLOADED, actor=alice, label="/Q3.xlsx", space=team)
    rows = list(csv.DictReader(io.StringIO(_body(admin_client_.get(f"{LIST}export/csv/", {"action": "nope"})))))
    assert rows == []
    refused = admin_client_.get(f"{LIST}export/csv/", {"actions": "file.downloaded"})
    assert refused.status_code == 302 and refused["Location"].endswith(LIST)


def test_outsiders_cannot_export(client, alice, team):
    client.force_login(alice)
    assert client.get(f"{LIST}export/csv/", {"action": "file.downloaded"}).status_code == 302  # to the sign-in
    assert not AuditEvent.objects.filter(action=Action.AUDIT_EXPORTED).exists()


def test_the_audit_list_puts_the_sentence_second_and_lets_it_wrap(admin_client_, alice, team):
    _event(Action.FILE_DOWNLOADED, actor=alice, label="/Finance/Q3.xlsx", space=team)
    html = admin_client_.get(LIST).content.decode()
    headers = re.findall(r'<th scope="col" class="[^"]*column-(\w+)', html)
    assert headers[:2] == ["created_at", "sentence"] and len(headers) <= 5, headers
    assert "adminpanel/audit.css" in html


def test_the_dashboard_has_one_heading_and_counts_in_proper_plurals(admin_client_, lock):
    html = admin_client_.get("/admin/dashboard/").content.decode()
    assert len(re.findall(r"<h1[ >]", html)) == 1 and "Dashboard" in html
    assert re.search(r'<span id="held-locks">1</span> lock held\.', html)
    Lock.objects.all().delete()
    html = admin_client_.get("/admin/dashboard/").content.decode()
    assert re.search(r'<span id="held-locks">0</span> locks held\.', html)


def test_the_admin_index_says_blocked_hashes(admin_client_):
    html = admin_client_.get("/admin/").content.decode()
    assert "Blocked hashes" in html and "hashs" not in html


def test_breaking_one_lock_says_lock_not_locks(admin_client_, lock):
    from tests.adminpanel.conftest import action_post

    response = action_post(admin_client_, "/admin/locks/lock/", "break_locks", [lock.pk])
    said = [str(message) for message in admin_client_.get("/admin/locks/lock/").context["messages"]]
    assert response.status_code == 302 and "Broke 1 lock." in said, said
