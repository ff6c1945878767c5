"""A Range header is never a way around the audit log: every answer whose
bytes start at byte 0 (or cover the whole object) is a download event, over
WebDAV and the files API, against the live portal as a client would ask."""

from __future__ import annotations

import pytest
import requests

from portal.audit.actions import Action
from tests.dav.support import node_in
from tests.helpers import events

BODY = bytes(range(256)) * 40


@pytest.fixture
def stored(dav, team):
    url = dav.base + "/ledger.bin"
    assert dav.put(url, data=BODY).status_code == 201
    return url, node_in(team, ["ledger.bin"])


def downloads(alice) -> int:
    return len(events(Action.FILE_DOWNLOADED, actor=alice))


@pytest.mark.parametrize("header", ["bytes=0-", "bytes=0-0", "bytes=-999999", "bytes=0-99999999"])
def test_a_webdav_get_whose_bytes_start_at_byte_0_is_audited(dav, stored, alice, header):
    url, _ = stored
    before = downloads(alice)
    answer = dav.get(url, headers={"Range": header})
    assert answer.status_code in (200, 206) and answer.content == BODY[:len(answer.content)]
    assert downloads(alice) == before + 1


@pytest.mark.parametrize("header", ["bytes=0-9,20-29", "bytes=20-29,0-9", "bytes=500-,0-", "bytes=x-y"])
def test_a_webdav_get_with_odd_ranges_is_audited_whenever_byte_0_is_sent(dav, stored, alice, header):
    url, _ = stored
    before = downloads(alice)
    answer = dav.get(url, headers={"Range": header})
    if answer.status_code not in (200, 206):  # refused: no byte left
        assert answer.status_code == 416 and downloads(alice) == before
        return
    start = int(answer.headers.get("Content-Range", "bytes 0-").split()[1].split("-")[0])
    assert answer.content == BODY[start:start + len(answer.content)]
    assert downloads(alice) == before + (1 if start == 0 else 0)


def test_a_webdav_range_whose_if_range_fails_sends_everything_and_is_audited(dav, stored, alice):
    url, _ = stored
    before = downloads(alice)
    answer = dav.get(url, headers={"Range": "bytes=100-", "If-Range": '"not-the-etag"'})
    assert answer.status_code == 200 and answer.content == BODY
    assert downloads(alice) == before + 1


def test_a_resumed_webdav_range_and_a_head_are_not_new_downloads(dav, stored, alice):
    url, _ = stored
    before = downloads(alice)
    part = dav.get(url, headers={"Range": "bytes=100-"})
    assert part.status_code == 206 and part.content == BODY[100:]
    assert dav.head(url).status_code == 200
    assert downloads(alice) == before


def test_the_api_content_endpoint_audits_a_range_from_byte_0(live_dav, alice_dav, stored, alice):
    _, file = stored
    url = f"{live_dav.url}/api/v1/files/{file.pk}/content"
    auth = {"Authorization": f"Bearer {alice_dav.token}"}
    before = downloads(alice)
    answer = requests.get(url, headers={**auth, "Range": "bytes=0-"}, timeout=30)
    assert answer.status_code == 206 and answer.content == BODY
    assert downloads(alice) == before + 1
    resumed = requests.get(url, headers={**auth, "Range": "bytes=10-"}, timeout=30)
    assert resumed.status_code == 206 and resumed.content == BODY[10:]
    head = requests.head(url, headers=auth, timeout=30)
    assert head.status_code == 200 and not head.content
    assert downloads(alice) == before + 1
