"""The store scrub (``files.scrub`` beat task, ``manage.py scrub``): stored
blobs, in the hot store and packed into a cold tier's containers on SeaweedFS,
read back against their SHA-256; damaged and missing objects flagged, audited
and shown to administrators."""

from __future__ import annotations

import io
import json
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.files import tasks
from portal.files.models import Blob, Integrity
from portal.files.services import scrub
from portal.lifecycle import runs
from portal.storage import get_store, reset_store
from portal.storage.tiers import tier_store
from tests.adminpanel.console_support import assert_portal_404, client_for
from tests.files.support_s3 import closed_port
from tests.helpers import events, last_event
from tests.lifecycle.conftest import age, blob_of, policy, s3_tiers, stored  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def files(alice, team, s3_tiers):
    """Three files in the hot store and two small ones packed into one cold container, all on SeaweedFS."""
    hot = [stored(alice, team, f"/hot{i}.bin", os.urandom(70_000 + i)) for i in range(3)]
    cold = [stored(alice, team, f"/cold{i}.txt", os.urandom(900 + i)) for i in range(2)]
    age(*cold, days=40)
    assert runs.tiering_run().as_dict()["containers"] == 1
    return {"hot": [blob_of(v) for v in hot], "cold": [blob_of(v) for v in cold]}


def overwrite(store, key: str, offset: int) -> None:
    """Flip one byte of a stored object in place of the store (what bit rot or a bad disk does)."""
    with store.open(key) as stream:
        data = bytearray(stream.read())
    data[offset] ^= 0xFF
    store.put(key, io.BytesIO(bytes(data)))


def run_command(*args) -> tuple[int, dict]:
    out = io.StringIO()
    try:
        call_command("scrub", *args, stdout=out, stderr=io.StringIO())
        code = 0
    except SystemExit as exited:
        code = exited.code
    return code, json.loads(out.getvalue())


def test_successive_runs_walk_the_whole_store_in_slices_and_find_every_blob_intact(settings, files):
    settings.SCRUB_BATCH = 2
    reports = [tasks.scrub_blobs() for _ in range(4)]

    assert [r["checked"] for r in reports] == [2, 2, 1, 2]
    assert [r["pass_complete"] for r in reports] == [False, False, True, False]
    assert all(r["ok"] == r["checked"] and not r["bad_blobs"] for r in reports)
    assert reports[2]["cursor"] == 0   # the fourth run started over
    assert sum(r["bytes"] for r in reports[:3]) == sum(b.size for b in files["hot"] + files["cold"])
    scrubbed = events(Action.BLOB_SCRUBBED)
    assert len(scrubbed) == 4 and {e.outcome for e in scrubbed} == {Outcome.SUCCESS}
    assert scrubbed[0].details["cursor"] == sorted(b.pk for b in files["hot"] + files["cold"])[1]


def test_damaged_missing_and_damaged_packed_blobs_are_flagged_once_audited_and_fail_the_run(settings, files):
    damaged, missing, packed = files["hot"][0], files["hot"][1], files["cold"][1]
    overwrite(get_store(), damaged.key, 1234)
    get_store().delete(missing.key)
    overwrite(tier_store("cold"), packed.tier_key, packed.pack_offset + 5)   # only that blob's slice

    with pytest.raises(tasks.ScrubFailed, match="2 damaged, 1 missing"):
        tasks.scrub_blobs()
    with pytest.raises(tasks.ScrubFailed):
        tasks.scrub_blobs()   # a second run: already flagged, no second alarm

    flagged = dict(Blob.objects.filter(integrity=Integrity.MISMATCH).values_list("pk", "tier"))
    assert flagged == {damaged.pk: "hot", missing.pk: "hot", packed.pk: "cold"}
    alarms = {e.details["blob"]: e for e in events(Action.FILE_INTEGRITY_FAILED)}
    assert set(alarms) == set(flagged) and len(events(Action.FILE_INTEGRITY_FAILED)) == 3
    assert alarms[missing.pk].details["problem"] == "missing" and alarms[damaged.pk].details["problem"] == "mismatch"
    assert alarms[packed.pk].outcome == Outcome.FAILURE and alarms[packed.pk].details["expected"] == packed.sha256
    run = last_event(Action.BLOB_SCRUBBED)
    assert run.outcome == Outcome.FAILURE
    assert (run.details["checked"], run.details["ok"], run.details["mismatched"], run.details["missing"]) == (5, 2, 2, 1)

    code, report = run_command()
    assert code == 1 and report["bad_blobs"] == sorted(flagged) and report["ok"] == 2


def test_a_blob_the_store_repairs_or_a_fresh_upload_replaces_reads_verified_again(alice, team, files):
    damaged, missing = files["hot"][0], files["hot"][1]
    with get_store().open(damaged.key) as stream:
        good = stream.read()
    with get_store().open(missing.key) as stream:
        lost = stream.read()
    overwrite(get_store(), damaged.key, 0)
    get_store().delete(missing.key)
    assert run_command()[0] == 1

    get_store().put(damaged.key, io.BytesIO(good))   # the store's own repair (a replica copied back)
    stored(alice, team, "/again.bin", lost)          # someone uploads the lost file again

    code, report = run_command()
    assert (code, report["repaired"], report["bad_blobs"]) == (0, 1, [])
    assert not Blob.objects.filter(integrity=Integrity.MISMATCH).exists()
    healed = Blob.objects.get(pk=missing.pk)
    assert healed.key != missing.key and get_store().exists(healed.key)
    assert last_event(Action.BLOB_TIERED).details["why"] == "repair"


def test_the_command_checks_everything_at_once_and_leaves_the_schedules_place_alone(settings, files):
    settings.SCRUB_BATCH = 2
    tasks.scrub_blobs()
    code, report = run_command()
    assert (code, report["checked"], report["ok"], report["pass_complete"]) == (0, 5, 5, True)
    assert "cursor" not in last_event(Action.BLOB_SCRUBBED).details
    assert tasks.scrub_blobs()["checked"] == 2 and scrub.last_scrub().details["cursor"] > 0
    assert run_command("--tier", "cold")[1]["checked"] == 2
    assert run_command("--limit", "1")[1]["checked"] == 1


@pytest.mark.parametrize("args,message", [(["--limit", "0"], "--limit is a whole number"),
                                          (["--tier", "glacier"], "No storage tier is called 'glacier'")])
def test_the_command_refuses_bad_options_with_exit_code_2_and_checks_nothing(files, args, message):
    with pytest.raises(CommandError, match=message) as refused:
        call_command("scrub", *args)
    assert refused.value.returncode == 2
    assert not events(Action.BLOB_SCRUBBED)


def test_a_store_that_stops_answering_ends_the_run_with_exit_code_3_and_flags_nothing(settings, files):
    settings.S3_ENDPOINT = f"http://127.0.0.1:{closed_port()}"
    reset_store()
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("scrub", stdout=out, stderr=err)
    assert exited.value.code == 3 and "stopped answering" in err.getvalue()
    assert json.loads(out.getvalue())["checked"] == 0
    assert not Blob.objects.filter(integrity=Integrity.MISMATCH).exists()


def test_administrators_see_damaged_files_on_the_storage_page_and_nobody_else_does(admin, alice, files):
    get_store().delete(files["hot"][2].key)
    assert run_command()[0] == 1

    page = client_for(admin).get(reverse("tiers:page")).content.decode()
    section = page.split('id="scrub"')[1].split("</table>")[0]
    assert "1 stored file is damaged or missing" in section
    assert f'data-blob="{files["hot"][2].pk}"' in section and "hot2.bin" in section
    assert "5 stored files" in section
    assert_portal_404(client_for(alice).get(reverse("tiers:page")))


def test_administrators_are_notified_once_of_newly_damaged_files_and_nobody_else_is(admin, alice, bob, files):
    from portal.notify.models import Kind, Notification
    from portal.notify.tasks import event_dispatch
    from portal.notify.texts import sentence

    event_dispatch(tasks_run_and_event())  # every blob intact: nobody is told
    assert not Notification.objects.filter(kind=Kind.FILES_DAMAGED).exists()

    overwrite(get_store(), files["hot"][0].key, 99)
    get_store().delete(files["hot"][1].key)
    first = tasks_run_and_event()
    event_dispatch(first)
    event_dispatch(first)  # a dispatch run twice tells once
    told = Notification.objects.filter(kind=Kind.FILES_DAMAGED)
    assert [note.user for note in told] == [admin]
    assert sentence(told[0]) == ("The store's integrity check found 1 damaged and 1 missing stored files; "
                                 "the storage page lists them")
    assert told[0].url == reverse("tiers:page") and told[0].email_mode == "immediate"

    event_dispatch(tasks_run_and_event())  # the same files found again: no second alarm
    assert told.count() == 1


def tasks_run_and_event() -> int:
    """A scheduled scrub run (failing or not); the id of the event it recorded."""
    try:
        tasks.scrub_blobs()
    except tasks.ScrubFailed:
        pass
    return last_event(Action.BLOB_SCRUBBED).pk
