"""The agent as the portal offers it: the Makefile's build (a reproducible
wheel and its SHA-256 manifest) and /agent/, the page and the file."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from portal.backups import agent_dist
from tests.web.live import page_client

ROOT = Path(__file__).resolve().parents[2]
WHEEL = "coffer_agent-1.0-py3-none-any.whl"


@pytest.fixture
def built(settings, tmp_path):
    """An agent build in a folder of the test's, served by the portal."""
    entry = agent_dist.build(tmp_path / "agent")
    settings.AGENT_DIST_DIR = tmp_path / "agent"
    return entry


def test_the_makefile_target_builds_the_wheel_and_its_sha256(tmp_path):
    out = tmp_path / "dist"
    done = subprocess.run(["make", "--no-print-directory", f"AGENT_DIST={out}", f"{out}/manifest.json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    [entry] = manifest["files"]
    wheel = out / entry["name"]
    assert entry["name"] == WHEEL and entry["version"] == "1.0"
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == entry["sha256"]
    assert wheel.stat().st_size == entry["size"]


def test_the_wheel_holds_the_agent_and_pins_its_dependencies_and_builds_byte_identical(tmp_path):
    first, second = agent_dist.build(tmp_path / "a"), agent_dist.build(tmp_path / "b")
    assert first["sha256"] == second["sha256"]  # every portal server offers the same file
    with zipfile.ZipFile(tmp_path / "a" / WHEEL) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read("coffer_agent-1.0.dist-info/METADATA").decode()
        scripts = wheel.read("coffer_agent-1.0.dist-info/entry_points.txt").decode()
    assert {"sync_agent/__init__.py", "sync_agent/cli.py", "sync_agent/__main__.py"} <= names
    assert not any(name.startswith("portal/") or "__pycache__" in name for name in names)
    pins = [line for line in (ROOT / "sync_agent/requirements.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    assert [line[len("Requires-Dist: "):] for line in metadata.splitlines()
            if line.startswith("Requires-Dist: ")] == pins
    assert "Requires-Python: >=3.11" in metadata
    assert "coffer-agent = sync_agent.cli:main" in scripts


def test_a_broken_or_missing_manifest_offers_nothing(tmp_path):
    assert agent_dist.published(tmp_path) == []
    (tmp_path / "manifest.json").write_text(json.dumps({"files": [
        {"name": "../secret_key", "sha256": "0" * 64}, {"name": WHEEL, "sha256": "0" * 64}]}))
    assert agent_dist.published(tmp_path) == []  # a bad name, and a good one with no file


@pytest.mark.django_db
def test_the_agent_page_lists_the_build_with_its_sha256(alice, built):
    page = page_client(alice).get("/agent/")
    assert page.status_code == 200
    html = page.content.decode()
    assert built["sha256"] in html and f'href="/agent/{WHEEL}"' in html


@pytest.mark.django_db
def test_the_agent_file_downloads_as_an_attachment_byte_identical(alice, built):
    response = page_client(alice).get(f"/agent/{WHEEL}")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == built["sha256"]
    assert response["Content-Disposition"] == f'attachment; filename="{WHEEL}"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/zip"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/agent/", f"/agent/{WHEEL}"])
def test_signed_out_visitors_are_sent_to_sign_in(client, built, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["manifest.json", "coffer_agent-0.9-py3-none-any.whl", "..%2Fmanifest.json",
                                  "%2E%2E%2F%2E%2E%2Fsecret_key", WHEEL + ".sha256"])
def test_a_file_name_the_build_does_not_list_is_not_found(alice, built, name):
    response = page_client(alice).get(f"/agent/{name}")
    assert response.status_code == 404


@pytest.mark.django_db
def test_without_a_build_the_pages_say_so(alice, settings, tmp_path):
    settings.AGENT_DIST_DIR = tmp_path / "nothing"
    client = page_client(alice)
    assert "no agent build" in client.get("/agent/").content.decode()
    assert "no agent build" in client.get("/devices/").content.decode()
    assert client.get(f"/agent/{WHEEL}").status_code == 404


@pytest.mark.django_db
def test_the_devices_page_explains_each_system_and_offers_the_download(alice, built):
    html = page_client(alice, HTTP_USER_AGENT="Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0)").get(
        "/devices/").content.decode()
    for system in ("windows", "macos", "linux"):
        assert f'data-system="{system}"' in html
    assert 'data-system="macos" open' in html and 'data-system="linux" open' not in html
    assert built["sha256"] in html and f"/agent/{WHEEL}" in html
    assert f"pip install ~/Downloads/{WHEEL}" in html and "Get-FileHash" in html
    assert html.index('id="get-agent"') < html.index('id="enroll"')  # the enrollment follows
