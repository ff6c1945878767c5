"""Getting the backup agent as an employee does: the Devices page offers the
build, the browser downloads it, it installs into a fresh virtual environment
and answers --version, and the enrollment command the page shows enrolls it
against the live portal, after which the device is listed."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from playwright.sync_api import expect

from portal.backups import agent_dist
from portal.backups.models import Device
from portal.backups.services.devices import enrollment_token_create


@pytest.fixture
def built(settings, live_server, tmp_path):
    """A fresh agent build served by the live portal, whose enrollment command names it."""
    from tests.files.support_s3 import use_local

    use_local(settings, tmp_path / "objects", live_server.url)  # packs go to the live server's local store
    settings.AGENT_DIST_DIR = tmp_path / "dist"
    return agent_dist.build(tmp_path / "dist")


def _clean_env(tmp_path: Path) -> dict:
    """No PYTHONPATH (the checkout's sync_agent must not be what runs), an own agent home."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DBUS_SESSION_BUS_ADDRESS")}
    return {**env, "COFFER_AGENT_HOME": str(tmp_path / "agent-home"), "HOME": str(tmp_path / "user-home")}


def _install(wheel: Path, tmp_path: Path, env: dict) -> Path:
    """A fresh venv with the wheel pip-installed; its dependencies come from this interpreter's
    site-packages (a .pth file) so that nothing is fetched: the test stays offline and fast."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-index", "--quiet", str(wheel)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return venv / "bin"


def _agent(bin_dir: Path, env: dict, *args: str) -> str:
    done = subprocess.run([str(bin_dir / "coffer-agent"), *args], cwd=bin_dir.parent.parent, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"coffer-agent {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def test_an_employee_downloads_installs_and_enrolls_the_agent(signed_in_page, alice, built, tmp_path,
                                                              live_server, console_errors, screenshot):
    page = signed_in_page(alice)
    page.goto("/devices/")
    expect(page.get_by_role("heading", name="Get the backup agent")).to_be_visible()
    shown = page.locator("#agent-sha256").input_value()
    assert shown == built["sha256"]
    for system in ("Windows", "macOS", "Linux"):
        expect(page.locator("summary", has_text=system)).to_be_visible()

    with page.expect_download() as info:
        page.get_by_role("link", name="Download the agent").click()
    wheel = tmp_path / info.value.suggested_filename
    info.value.save_as(wheel)
    assert wheel.name == built["name"]
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == shown

    env = _clean_env(tmp_path)
    bin_dir = _install(wheel, tmp_path, env)
    version = subprocess.run([str(bin_dir / "coffer-agent"), "--version"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.strip() == "coffer-agent 1.0", version.stderr
    where = subprocess.run([str(bin_dir / "python"), "-c", "import sync_agent; print(sync_agent.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(str(tmp_path / "venv")), where.stdout + where.stderr  # the installed copy runs

    page.get_by_label("Device name (optional)").fill("work laptop")
    page.get_by_role("button", name="Create enrollment token").click()
    command = page.locator("#enroll-command")
    expect(command).to_have_value(re.compile(rf"^coffer-agent enroll --server {re.escape(live_server.url)} "
                                             r"--token cofferenr_\S+$"))
    argv = shlex.split(command.input_value())
    assert argv[:4] == ["coffer-agent", "enroll", "--server", live_server.url]
    enrolled = subprocess.run([str(bin_dir / "coffer-agent"), *argv[1:]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
    assert enrolled.returncode == 0, enrolled.stdout + enrolled.stderr
    device = Device.objects.get(user=alice)
    assert f"enrolled as device {device.pk}" in enrolled.stdout

    page.goto("/devices/")
    row = page.get_by_role("row", name="work laptop")
    expect(row).to_be_visible()
    expect(row).to_contain_text("no backup yet")
    screenshot(page, "devices")

    page.goto("/agent/")
    expect(page.get_by_role("link", name=built["name"])).to_be_visible()
    expect(page.locator("code.hash")).to_have_text(built["sha256"])
    screenshot(page, "agent")

    page.set_viewport_size({"width": 375, "height": 800})  # a phone: no sideways scrolling
    for path in ("/devices/", "/agent/"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path


def test_a_laptop_backed_up_by_the_installed_agent_is_idle_and_its_snapshot_opens_at_its_folder(
        signed_in_page, alice, built, tmp_path, live_server, console_errors, screenshot):
    env = _clean_env(tmp_path)
    bin_dir = _install(tmp_path / "dist" / built["name"], tmp_path, env)  # the file /agent/ serves
    documents = tmp_path / "user-home" / "Documents"
    documents.mkdir(parents=True)
    (documents / "plan.txt").write_text("the plan")
    may_first = 1_714_564_800  # 2024-05-01 12:00 UTC
    os.utime(documents / "plan.txt", (may_first, may_first))
    token = enrollment_token_create(actor=alice, owner=alice, name="laptop")[1]
    _agent(bin_dir, env, "enroll", "--server", live_server.url, "--token", token)
    _agent(bin_dir, env, "add", str(documents))
    _agent(bin_dir, env, "backup")

    page = signed_in_page(alice)
    page.goto("/devices/")
    row = page.get_by_role("row", name="laptop")
    expect(row).to_contain_text("idle")
    expect(row).not_to_contain_text("backing up")
    row.get_by_role("link", name="laptop").click()
    expect(page.get_by_text("idle", exact=True)).to_be_visible()
    page.locator("table.listing tbody a").first.click()  # the newest snapshot

    expect(page.locator('.crumbs [aria-current="page"]')).to_have_text(str(documents))
    file_row = page.get_by_role("row", name="plan.txt")
    expect(file_row.locator("time")).to_have_attribute("datetime", "2024-05-01T12:00:00+00:00")
    assert "1970" not in page.content()
    screenshot(page, "snapshot")
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # the long path wraps

