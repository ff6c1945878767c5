"""``manage.py tiering_run`` and ``manage.py storage_init`` with tiers."""

from __future__ import annotations

import io
import json
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from portal.files.models import Blob
from portal.storage.tiers import tier_store
from tests.lifecycle.conftest import age, stored

pytestmark = pytest.mark.django_db


def test_tiering_run_moves_idle_files_and_prints_what_moved(alice, team, cold):
    versions = [stored(alice, team, f"/t{i}.txt", os.urandom(700)) for i in range(3)]
    age(*versions, days=40)
    out = io.StringIO()

    call_command("tiering_run", "--compact", "--sweep", stdout=out)

    report = json.loads(out.getvalue())
    assert report["tiering"]["blobs"] == 3 and report["tiering"]["containers"] == 1
    assert report["sweep"]["deleted"] == 0   # the hot copies wait out their grace period
    assert Blob.objects.filter(tier="cold").count() == 3


@pytest.mark.parametrize("flag", ["--max-blobs=0", "--max-bytes=-5"])
def test_tiering_run_refuses_bad_limits_with_exit_code_2_and_moves_nothing(alice, team, cold, flag):
    age(stored(alice, team, "/x.txt", b"x" * 100), days=40)
    with pytest.raises(CommandError) as refused:
        call_command("tiering_run", flag)
    assert refused.value.returncode == 2
    assert not Blob.objects.filter(tier="cold").exists()


def test_storage_init_makes_every_tier_ready(settings, cold, tmp_path):
    root = settings.TIERS["cold"]["root"]
    for path in sorted(root.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    root.rmdir()
    out = io.StringIO()
    call_command("storage_init", stdout=out)
    assert "Storage ready: hot" in out.getvalue() and "Storage ready: cold" in out.getvalue()
    tier_store("cold").check()
