from datetime import datetime, timedelta, timezone

import pytest

from portal.backups.keys import user_key_set
from portal.backups.models import RetentionPolicy, Snapshot
from portal.backups.services.retention import retention_apply, snapshots_kept
from portal.backups.tasks import apply_retention
from tests.helpers import assert_error, last_event

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)


def _policy(**keep):
    return RetentionPolicy(**{name: keep.get(name, 0) for name in RetentionPolicy.FIELDS})


def _snapshots(device_row, times):
    key_set = user_key_set(device_row.user)
    return [Snapshot.objects.create(device=device_row, root="a" * 64, started_at=t, finished_at=t, key_set=key_set)
            for t in times]


@pytest.fixture
def device_row(enroll, alice):
    from portal.backups.models import Device

    return Device.objects.get(pk=enroll(alice).id)


def test_keep_last_keeps_the_newest_n(device_row):
    made = _snapshots(device_row, [NOW - timedelta(hours=h) for h in range(5)])
    assert snapshots_kept(made, _policy(keep_last=2)) == {made[0].pk, made[1].pk}


def test_keep_daily_keeps_the_newest_of_each_of_the_newest_days(device_row):
    # three a day for four days
    made = _snapshots(device_row, [NOW - timedelta(days=d, hours=h) for d in range(4) for h in (0, 1, 2)])
    kept = snapshots_kept(made, _policy(keep_daily=3))
    assert kept == {made[0].pk, made[3].pk, made[6].pk}


def test_hourly_weekly_and_monthly_buckets_combine_with_keep_last(device_row):
    times = ([NOW - timedelta(minutes=20 * i) for i in range(6)]             # two hours, three each
             + [NOW - timedelta(weeks=w) for w in (2, 3)]                    # older weeks
             + [datetime(2026, m, 3, tzinfo=timezone.utc) for m in (1, 2, 3)])  # older months
    made = _snapshots(device_row, times)
    kept = snapshots_kept(made, _policy(keep_last=1, keep_hourly=2, keep_weekly=3, keep_monthly=5))
    by_time = {s.started_at: s.pk for s in made}
    # hours 12:00 and 11:xx: the newest of each (12:00, 11:40); 11:20 and 11:00 are not kept
    assert by_time[NOW] in kept and by_time[NOW - timedelta(minutes=20)] in kept
    assert by_time[NOW - timedelta(minutes=40)] not in kept and by_time[NOW - timedelta(minutes=60)] not in kept
    assert by_time[NOW - timedelta(weeks=2)] in kept and by_time[NOW - timedelta(weeks=3)] in kept
    assert {by_time[datetime(2026, m, 3, tzinfo=timezone.utc)] for m in (1, 2, 3)} <= kept


def test_applying_retention_deletes_the_rest_and_is_audited(device_row):
    made = _snapshots(device_row, [NOW - timedelta(days=d) for d in range(10)])
    RetentionPolicy.objects.create(device=device_row, keep_last=3)
    result = retention_apply(device_id=device_row.pk)
    assert result["removed"] == sorted(s.pk for s in made[3:])
    assert list(Snapshot.objects.filter(device=device_row).values_list("pk", flat=True).order_by("-started_at")) \
        == [s.pk for s in made[:3]]
    assert last_event("backup.retention_applied").details["removed_count"] == 7
    assert retention_apply(device_id=device_row.pk)["removed"] == []  # safe to run twice


def test_the_task_uses_the_deployment_default_without_a_device_policy(device_row, settings):
    settings.BACKUP_DEFAULT_RETENTION = {"keep_last": 2, "keep_hourly": 0, "keep_daily": 0, "keep_weekly": 0,
                                         "keep_monthly": 0}
    _snapshots(device_row, [NOW - timedelta(days=d) for d in range(4)])
    assert apply_retention() == 2
    assert Snapshot.objects.count() == 2


def test_the_owner_reads_and_sets_a_devices_policy(device_row, signed_in, alice):
    client = signed_in(alice)
    url = f"/api/v1/devices/{device_row.pk}/retention"
    assert client.get(url).json()["source"] == "default"
    policy = {"keep_last": 5, "keep_hourly": 0, "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 0}
    response = client.put(url, policy, format="json")
    assert response.status_code == 200 and response.json() == {**policy, "source": "device"}
    assert client.get(url).json() == {**policy, "source": "device"}
    assert last_event("backup.retention_changed").details == policy


def test_a_device_policy_with_bad_input_is_refused(device_row, signed_in, alice):
    url = f"/api/v1/devices/{device_row.pk}/retention"
    zero = {name: 0 for name in RetentionPolicy.FIELDS}
    assert_error(signed_in(alice).put(url, zero, format="json"), 400, "invalid_retention")
    assert_error(signed_in(alice).put(url, {"keep_last": 1}, format="json"), 400, "invalid_input")
    assert_error(signed_in(alice).put(url, {**zero, "keep_last": -1}, format="json"), 400, "invalid_input")


def test_an_outsider_cannot_read_or_set_a_devices_policy(device_row, signed_in, bob):
    url = f"/api/v1/devices/{device_row.pk}/retention"
    assert_error(signed_in(bob).get(url), 404, "not_found")
    assert_error(signed_in(bob).put(url, {name: 1 for name in RetentionPolicy.FIELDS}, format="json"), 404,
                 "not_found")


def test_only_administrators_set_the_default_policy(signed_in, alice, admin):
    policy = {"keep_last": 1, "keep_hourly": 2, "keep_daily": 3, "keep_weekly": 4, "keep_monthly": 5}
    assert_error(signed_in(alice).put("/api/v1/backup/retention", policy, format="json"), 403, "admin_only")
    assert signed_in(admin).put("/api/v1/backup/retention", policy, format="json").status_code == 200
    assert signed_in(alice).get("/api/v1/backup/retention").json() == {**policy, "source": "default"}
    assert_error(signed_in(admin).put("/api/v1/backup/retention", {"keep_last": "x"}, format="json"), 400,
                 "invalid_input")
