"""/manage/ (the console home): charts drawn on the server as inline SVG,
the numbers from seeded audit events, days in the viewer's time zone, a
fixed number of queries, 404 for everyone but administrators."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.adminpanel import stats
from portal.adminpanel.snapshots_model import StorageSnapshot
from portal.adminpanel.tasks import snapshot_storage
from portal.audit.actions import Action
from portal.audit.models import AuditEvent, Outcome
from portal.backups.models import Device
from portal.shares.services import share_link_create, share_link_revoke
from portal.spaces.models import Space

URL = "/manage/"
UTC = dt_timezone.utc
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# Seven for the charts (top spaces, the total, snapshots, traffic, links, devices, sign-ins); the rest is the
# page's own (session, user, left navigation, notification bell).
BUDGET = 11


def _event(action: str, when: datetime, outcome: str = Outcome.SUCCESS) -> AuditEvent:
    event = AuditEvent(action=action, created_at=when, outcome=outcome, actor_label="seed")
    event.save(force_insert=True)
    return event


def _chart(response, key: str):
    return next(chart for chart in response.context["charts"] if chart.key == key)


def _seed_traffic(now: datetime) -> None:
    for _ in range(3):
        _event(Action.FILE_UPLOADED, now)  # today, even a minute after midnight
    _event(Action.FILE_DOWNLOADED, now - timedelta(days=1))
    _event(Action.SHARE_DOWNLOADED, now - timedelta(days=1))
    _event(Action.FILE_ZIP_DOWNLOADED, now - timedelta(days=1))
    _event(Action.FILE_DOWNLOADED, now - timedelta(days=1), outcome=Outcome.DENIED)  # not a download
    _event(Action.FILE_UPLOADED, now - timedelta(days=40))                           # before the period
    _event(Action.LOGIN_FAILED, now - timedelta(days=2), outcome=Outcome.FAILURE)
    _event(Action.LOGIN_FAILED, now - timedelta(days=2), outcome=Outcome.FAILURE)
    _event(Action.LOGIN_THROTTLED, now - timedelta(days=2), outcome=Outcome.DENIED)


@pytest.mark.django_db
def test_the_home_draws_every_chart_with_the_seeded_numbers(admin_client_, team, link, device, alice, doc):
    now = timezone.now()
    _seed_traffic(now)
    Space.objects.filter(pk=team.pk).update(used_bytes=3 * 1024 ** 2, quota_bytes=10 * 1024 ** 2)
    revoked = share_link_create(actor=alice, node_id=doc.pk, permission="download")[0]
    share_link_revoke(actor=alice, link_id=revoked.pk)
    Device.objects.filter(pk=device.pk).update(last_backup_at=now - timedelta(days=3))

    response = admin_client_.get(URL)
    assert response.status_code == 200
    traffic = _chart(response, "traffic")
    assert traffic.rows[-1][1:] == ["3", "0"] and traffic.rows[-2][1:] == ["0", "3"]
    assert len(traffic.rows) == 30 and sum(int(row[1]) for row in traffic.rows) == 3
    signins = _chart(response, "signins")
    assert signins.rows[-3][1:] == ["2", "1"]
    links = dict(_chart(response, "links").rows)
    assert links["Active"] == "1" and links["Revoked"] == "1"
    devices = dict(_chart(response, "devices").rows)
    assert devices["In the last 7 days"] == "1" and devices["Never"] == "0"
    spaces = {row[0]: row[1:] for row in _chart(response, "storage-spaces").rows}
    assert spaces["Team"] == ["3.0\xa0MB", "10.0\xa0MB"]
    html = response.content.decode()
    assert html.count("aria-labelledby=\"chart-") == 6 and 'viewBox="0 0 320' in html and "<desc" in html and "<details" in html
    assert "3 uploads and 3 downloads" in html


@pytest.mark.django_db
def test_the_home_reads_in_chinese(admin_client_, team):
    html = admin_client_.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'lang="zh-hans"' in html


@pytest.mark.django_db
def test_days_are_counted_in_the_viewers_time_zone():
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    _event(Action.FILE_UPLOADED, datetime(2026, 3, 9, 20, 0, tzinfo=UTC))  # 10 March, 04:00 in Shanghai
    in_utc = stats.traffic_per_day(now=now, tz=UTC, days=7)
    in_shanghai = stats.traffic_per_day(now=now, tz=SHANGHAI, days=7)
    assert [r["uploads"] for r in in_utc][-2:] == [1, 0]
    assert [r["uploads"] for r in in_shanghai][-2:] == [0, 1]
    assert in_shanghai[-1]["day"].isoformat() == "2026-03-10" and len(in_shanghai) == 7


@pytest.mark.django_db
def test_the_scales_round_up_to_numbers_people_read():
    from portal.adminpanel.charts import count_text, nice_bytes, nice_ceiling

    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 11, 240, 260)] == [1, 1, 5, 10, 20, 250, 500]
    assert nice_bytes(3 * 1024 ** 2) == 5 * 1024 ** 2 and nice_bytes(1024 ** 2) == 1024 ** 2
    assert count_text(0.5) == "" and count_text(2.0) == "2"


@pytest.mark.django_db
def test_storage_over_time_comes_from_the_daily_snapshots_and_today_is_live(team):
    now = timezone.now()
    today = stats.local_today(now, UTC)
    StorageSnapshot.objects.create(day=today - timedelta(days=2), used_bytes=100, taken_at=now)
    StorageSnapshot.objects.create(day=today - timedelta(days=90), used_bytes=5, taken_at=now)  # outside
    Space.objects.filter(pk=team.pk).update(used_bytes=700)
    total = stats.storage_total()
    points = stats.storage_over_time(now=now, tz=UTC, days=30, total=total)
    assert points == [(today - timedelta(days=2), 100), (today, total["used"])]


@pytest.mark.django_db
def test_the_snapshot_task_keeps_one_row_a_day(team):
    snapshot_storage()
    Space.objects.filter(pk=team.pk).update(used_bytes=4242)
    snapshot_storage()
    row = StorageSnapshot.objects.get()
    assert row.used_bytes == stats.storage_total()["used"] and row.spaces == Space.objects.count()


@pytest.mark.django_db
def test_devices_are_bucketed_by_their_last_backup(alice, device):
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    Device.objects.filter(pk=device.pk).update(last_backup_at=datetime(2026, 3, 10, 1, 0, tzinfo=UTC))
    buckets = {b.key: b.count for b in stats.devices_by_last_backup(now=now, tz=UTC)}
    assert buckets == {"today": 1, "week": 0, "month": 0, "older": 0, "never": 0}
    # 01:00 UTC is 18:00 the day before in Los Angeles
    los_angeles = zoneinfo.ZoneInfo("America/Los_Angeles")
    buckets = {b.key: b.count for b in stats.devices_by_last_backup(now=now, tz=los_angeles)}
    assert buckets["week"] == 1


@pytest.mark.django_db
def test_the_home_keeps_a_fixed_query_budget(admin_client_, team, make_user, alice, doc, device):
    admin_client_.get(URL)  # warm the session and caches
    with CaptureQueriesContext(connection) as few:
        assert admin_client_.get(URL).status_code == 200
    now = timezone.now()
    for i in range(5):
        make_user(username=f"filler{i}")
        share_link_create(actor=alice, node_id=doc.pk, permission="download")
        _seed_traffic(now - timedelta(days=i))
    with CaptureQueriesContext(connection) as many:
        assert admin_client_.get(URL).status_code == 200
    assert len(many) == len(few) <= BUDGET, [q["sql"][:120] for q in many.captured_queries]


@pytest.mark.django_db
def test_the_home_is_404_for_everyone_but_administrators(client, alice, staff_client):
    client.force_login(alice)
    assert client.get(URL).status_code == 404
    assert staff_client.get(URL).status_code == 404


@pytest.mark.django_db
def test_the_home_refuses_a_period_it_does_not_draw(admin_client_):
    for bad in ("abc", "0", "-7", "365", "7.5", "７"):
        response = admin_client_.get(URL, {"days": bad})
        assert response.status_code == 400, bad
        assert "7, 30 or 90 days" in response.content.decode()
    response = admin_client_.get(URL, {"days": "7"})
    assert response.status_code == 200 and len(_chart(response, "traffic").rows) == 7
    assert re.search(r'href="\?days=7" aria-current="true"', response.content.decode())


PHONE = {"width": 375, "height": 812}


def test_at_phone_width_the_charts_fit_and_their_figures_open(signed_in_page, root_admin, team, device, console_errors):
    now = timezone.now()
    for days in range(12):
        _event(Action.FILE_UPLOADED, now - timedelta(days=days))
        _event(Action.FILE_DOWNLOADED, now - timedelta(days=days, hours=1))
    page = signed_in_page(root_admin)
    page.set_viewport_size(PHONE)
    page.goto(URL)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the console home scrolls sideways: {width}"
    charts = page.locator("figure.chart svg")
    assert charts.count() == 6
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box["width"] > 250 and box["x"] + box["width"] <= PHONE["width"]
    figures = page.locator("#chart-traffic details")
    figures.locator("summary").click()
    assert figures.locator("tbody tr").count() == 30
