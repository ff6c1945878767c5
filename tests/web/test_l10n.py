"""Every string in both languages: a refusal a service raises reads in the
requester's language on the page and in the API's ``message`` (the ``code``
stays the stable English one); each user sets the time zone pages show
times in; dates read in the user's locale."""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone as dt_timezone
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.test import Client
from rest_framework.test import APIClient

from portal.accounts.services import token_issue
from portal.audit.models import AuditEvent
from portal.files.services.direct import file_put
from portal.locks.services import lock_acquire
from portal.shares.services import share_link_create
from portal.spaces.models import Space
from portal.spaces.services import member_add, space_create
from tests.web.live import page_client

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}
HTMX = {"HTTP_HX_REQUEST": "true"}
CHINESE = re.compile(r"[\u4e00-\u9fff]")
LOCALE = Path(__file__).resolve().parents[2] / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def _chinese(text: str) -> bool:
    return bool(CHINESE.search(text))


@pytest.fixture
def world(alice, bob):
    space = space_create(actor=alice, name="Team")
    member_add(actor=alice, space_id=space.pk, username="bob", role="editor")
    report = file_put(actor=alice, space_id=space.pk, path="/Reports/q3.txt",
                      fileobj=io.BytesIO(b"numbers"), size=7).node
    return {"space": space, "report": report}


def test_a_locked_file_is_refused_in_chinese_on_the_page_and_in_the_api(alice, bob, world):
    space, report = world["space"], world["report"]
    lock_acquire(actor=alice, node=report)
    page = page_client(bob).post(f"/spaces/{space.pk}/items/{report.pk}/rename", {"name": "x.txt"},
                                 **HTMX, **ZH)
    assert page.status_code == 423
    assert _chinese(page.content.decode()) and "cannot be" not in page.content.decode()
    answer = _api(bob).patch(f"/api/v1/files/{report.pk}", {"name": "x.txt"}, format="json", **ZH)
    assert answer.status_code == 423 and answer.json()["code"] == "locked"
    assert _chinese(answer.json()["message"]) and "alice" in answer.json()["message"]
    english = _api(bob).patch(f"/api/v1/files/{report.pk}", {"name": "x.txt"}, format="json")
    assert "cannot be renamed" in english.json()["message"]


def test_quota_exceeded_reads_in_chinese_with_sizes_in_human_units(alice, world):
    space = world["space"]
    Space.objects.filter(pk=space.pk).update(quota_bytes=1024)
    answer = _api(alice).post("/api/v1/uploads", {"space": space.pk, "path": "/big.bin", "size": 5 * 2**20},
                              format="json", **ZH)
    assert answer.status_code == 507 and answer.json()["code"] == "quota_exceeded"
    message = answer.json()["message"]
    assert _chinese(message) and "5.0\xa0MB" in message and str(5 * 2**20) not in message
    page = page_client(alice).generic("PUT", f"/spaces/{space.pk}/upload", b"x" * 2048, content_type="text/plain",
                                      QUERY_STRING=urlencode({"path": "/big.txt"}), **ZH)
    assert page.status_code == 507 and _chinese(page.json()["message"])


def test_a_name_clash_is_refused_in_chinese(alice, world):
    other = file_put(actor=alice, space_id=world["space"].pk, path="/Reports/q4.txt",
                     fileobj=io.BytesIO(b"more"), size=4).node
    answer = _api(alice).patch(f"/api/v1/files/{other.pk}", {"name": "Q3.TXT"}, format="json", **ZH)
    assert answer.status_code == 409
    assert _chinese(answer.json()["message"]) and "already exists" not in answer.json()["message"]


def test_a_throttled_share_password_reads_in_chinese(alice, world):
    link, token = share_link_create(actor=alice, node_id=world["report"].pk, permission="download",
                                    password="correct horse battery")
    visitor = Client(REMOTE_ADDR="198.51.100.9")
    wrong = visitor.post(f"/s/{token}", {"password": "wrong"}, **ZH)
    assert wrong.status_code == 403 and "密码错误" in wrong.content.decode()
    answers = [visitor.post(f"/s/{token}", {"password": "wrong"}, **ZH) for _ in range(4)]
    throttled = [a for a in answers if a.status_code == 429]
    assert throttled, [a.status_code for a in answers]
    text = throttled[0].content.decode()
    assert 'lang="zh-hans"' in text and _chinese(text)
    # The throttle's own sentence is a catalogue entry (its wording, with plural forms, is translated there).
    message = re.search(r'<p class="error"[^>]*>([^<]*)</p>', text)[1].strip()
    english = re.sub(r"\d+", "%(count)d", message.split(" (at ")[0]) if "Try again" in message else ""
    if english:
        assert english in LOCALE.read_text(encoding="utf-8").replace("\"\n\"", "")


def test_a_user_sets_their_time_zone_and_it_is_audited(alice):
    client = page_client(alice)
    assert 'value="Asia/Shanghai"' in client.get("/account/").content.decode()
    answer = client.post("/account/time-zone", {"time_zone": "Asia/Shanghai"})
    assert answer.status_code == 302
    alice.refresh_from_db()
    assert alice.time_zone == "Asia/Shanghai"
    event = AuditEvent.objects.filter(action="user.time_zone_changed").latest("id")
    assert event.details["to"] == "Asia/Shanghai" and event.actor_id == alice.pk


def test_an_unknown_time_zone_is_refused_with_a_clear_error(alice):
    client = page_client(alice)
    answer = client.post("/account/time-zone", {"time_zone": "Mars/Olympus_Mons"})
    assert answer.status_code == 400
    assert "Mars/Olympus_Mons is not a time zone" in answer.content.decode()
    chinese = client.post("/account/time-zone", {"time_zone": "Mars/Olympus_Mons"}, **ZH)
    assert "不是时区" in chinese.content.decode()
    alice.refresh_from_db()
    assert alice.time_zone == ""


def test_signed_out_visitors_cannot_set_a_time_zone():
    answer = Client().post("/account/time-zone", {"time_zone": "Asia/Shanghai"})
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")


def test_pages_show_times_in_the_users_zone_and_locale(alice):
    token, _secret = token_issue(actor=alice, owner=alice, name="laptop")
    type(token).objects.filter(pk=token.pk).update(
        last_used_at=datetime(2026, 12, 2, 6, 5, tzinfo=dt_timezone.utc))
    client = page_client(alice)
    assert "Dec. 2, 2026, 6:05 a.m." in client.get("/account/").content.decode()  # the deployment's UTC
    client.post("/account/time-zone", {"time_zone": "Asia/Shanghai"})
    assert "Dec. 2, 2026, 2:05 p.m." in client.get("/account/").content.decode()
    assert "2026年12月2日 14:05" in client.get("/account/", **ZH).content.decode()


def test_the_admin_panel_reads_in_chinese_audit_sentences_and_csv_headers_included(admin, alice, world):
    client = page_client(admin)
    index = client.get("/admin/", **ZH).content.decode()
    assert "审计事件" in index and "分享链接" in index and "Audit events" not in index
    audit = client.get("/admin/audit/auditevent/", **ZH).content.decode()
    assert "alice 创建了空间 Team" in audit and "created the space" not in audit
    export = client.get("/admin/audit/auditevent/export/csv/", **ZH)
    header = b"".join(export.streaming_content).decode().splitlines()[0]
    assert header.startswith("编号,时间,") and header.endswith(",空间,描述")
    english = client.get("/admin/audit/auditevent/export/csv/")
    assert b"".join(english.streaming_content).decode().startswith("id,created_at,")
