"""The agent against a live portal, as a user runs it: subprocesses, real HTTP,
the local store (and SeaweedFS in one test)."""

from __future__ import annotations

import json
import os
import random

from .conftest import describe, enrollment_token, make_sample

MiB = 1024 * 1024


def backup(agent) -> dict:
    return agent.json("backup")


def test_backup_then_restore_brings_back_every_byte_mode_mtime_link_and_empty_folder(enrolled, tmp_path):
    src = make_sample(tmp_path / "src")
    enrolled("add", str(src))
    first = backup(enrolled)
    assert first["files"] == 7 and first["added_bytes"] > 3 * MiB
    snaps = enrolled.json("snapshots")
    assert [str(s["id"]) for s in snaps] == [first["snapshot"]]

    target = tmp_path / "restored"
    enrolled("restore", "latest", str(src), "--target", str(target))
    expected = describe(src)
    del expected["Thumbs.db"]
    assert describe(target / "src") == expected


def test_a_second_backup_of_unchanged_files_uploads_nothing(enrolled, tmp_path):
    src = make_sample(tmp_path / "src")
    enrolled("add", str(src))
    backup(enrolled)
    second = backup(enrolled)
    assert second["added_bytes"] == 0 and second["packs"] == 0 and second["files_read"] == 0
    assert len(enrolled.json("snapshots")) == 2


def test_an_edit_in_the_middle_of_a_big_file_uploads_only_a_few_chunks(enrolled, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    data = bytearray(random.Random(7).randbytes(20 * MiB))
    (src / "video.raw").write_bytes(data)
    enrolled("add", str(src))
    first = backup(enrolled)
    assert first["added_bytes"] >= 20 * MiB
    data[10 * MiB:10 * MiB + 10] = b"0123456789"
    (src / "video.raw").write_bytes(data)
    second = backup(enrolled)
    assert second["files_read"] == 1
    assert 0 < second["added_bytes"] < 4 * MiB  # the chunks around the edit, and the trees
    target = tmp_path / "out"
    enrolled("restore", second["snapshot"], str(src / "video.raw"), "--target", str(target))
    assert (target / "video.raw").read_bytes() == bytes(data)


def test_ls_and_status_show_what_is_backed_up(enrolled, tmp_path):
    src = make_sample(tmp_path / "src")
    enrolled("add", str(src), "--exclude", "*.key")
    result = backup(enrolled)
    names = [e["name"] for e in enrolled.json("ls", "latest", str(src))]
    assert "private.key" not in names and "Thumbs.db" not in names
    assert {"docs", "empty", "run.sh", "link-to-report", "big.bin"} <= set(names)
    status = enrolled.json("status")
    assert status["enrolled"] and status["folders"][0]["path"] == str(src)
    assert str(status["last_snapshot"]["id"]) == result["snapshot"]
    assert "big.bin" in enrolled("ls", result["snapshot"], str(src)).stdout


def test_restore_overwrite_policies(enrolled, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("original")
    enrolled("add", str(src))
    backup(enrolled)
    target = tmp_path / "out"
    target.mkdir()
    (target / "a.txt").write_text("local edit")
    enrolled("restore", "latest", str(src / "a.txt"), "--target", str(target), "--overwrite", "never")
    assert (target / "a.txt").read_text() == "local edit"
    enrolled("restore", "latest", str(src / "a.txt"), "--target", str(target), "--overwrite", "if-changed")
    assert (target / "a.txt").read_text() == "original"
    (target / "a.txt").write_text("again")
    enrolled("restore", "latest", str(src / "a.txt"), "--target", str(target), "--overwrite", "always")
    assert (target / "a.txt").read_text() == "original"


def test_verify_reads_back_what_was_stored(enrolled, tmp_path):
    src = make_sample(tmp_path / "src")
    enrolled("add", str(src))
    backup(enrolled)
    out = enrolled("verify", "--read-data-subset", "100").stdout
    assert "ok:" in out


def test_identical_data_from_two_devices_is_stored_once(portal, owner, make_agent, tmp_path):
    data = os.urandom(2 * MiB)
    agents = []
    for name in ("one", "two"):
        agent = make_agent(name)
        agent("enroll", "--server", portal.url, "--token", enrollment_token(owner, name))
        folder = tmp_path / f"src-{name}"
        folder.mkdir()
        (folder / "same.bin").write_bytes(data)
        agent("add", str(folder))
        agents.append(agent)
    first = backup(agents[0])
    second = backup(agents[1])
    assert first["added_bytes"] > 2 * MiB
    assert second["added_bytes"] < 64 * 1024  # only its own trees


def test_a_revoked_device_gets_a_clear_error_and_exit_code_5(enrolled, tmp_path):
    from portal.backups.models import Device
    from portal.backups.services.devices import device_revoke

    src = tmp_path / "src"
    src.mkdir()
    (src / "f.txt").write_text("x")
    enrolled("add", str(src))
    device = Device.objects.get()
    device_revoke(actor=device.user, device=device)
    done = enrolled("backup", expect=5)
    assert "revoked" in done.stderr
    daemon = enrolled.start("run")
    assert daemon.wait(timeout=60) == 5
    assert "revoked" in enrolled.log.read_text()


def test_an_unenrolled_agent_says_how_to_enroll(make_agent):
    done = make_agent()("backup", expect=3)
    assert "enroll" in done.stderr


def test_enrollment_stores_credentials_readable_only_by_the_user(enrolled):
    creds = enrolled.home / "credentials.json"
    assert creds.exists() and (creds.stat().st_mode & 0o777) == 0o600
    assert "device_token" in json.loads(creds.read_text())
    assert "device_token" not in (enrolled.home / "config.json").read_text()


def test_backup_and_restore_through_seaweedfs_s3(portal_s3, owner, make_agent, tmp_path):
    agent = make_agent()
    agent("enroll", "--server", portal_s3.url, "--token", enrollment_token(owner))
    src = make_sample(tmp_path / "src")
    agent("add", str(src))
    first = backup(agent)
    assert first["packs"] >= 1
    keys = [o.key for o in portal_s3.store.iter_objects("backups/packs/")]
    assert len(keys) == first["packs"]
    target = tmp_path / "restored"
    agent("restore", "latest", str(src), "--target", str(target))
    expected = describe(src)
    del expected["Thumbs.db"]
    assert describe(target / "src") == expected
    assert backup(agent)["added_bytes"] == 0
