"""On S3 every presigned URL the portal hands out is a counted, audited
download: HEAD and Range requests, to a share link or to the files API, are
no way to get a URL to the whole object for free. Real HTTP against the live
portal, real SeaweedFS behind it."""

from __future__ import annotations

import os

import pytest
import requests

from portal.accounts.services import token_issue
from portal.audit.actions import Action
from tests.helpers import events
from tests.shares.conftest import row

pytestmark = pytest.mark.django_db(transaction=True)


def _ask(method: str, url: str, **headers) -> requests.Response:
    return requests.request(method, url, headers=headers, allow_redirects=False, timeout=30)


def test_a_link_for_one_download_hands_out_exactly_one_url_across_get_head_and_range(live_server, share, s3_file):
    meta, data = s3_file
    link = share(meta["id"], max_downloads=1)
    url = f"{live_server.url}/s/{link['token']}/download"
    attempts = [("HEAD", {}), ("GET", {"Range": "bytes=100-"}), ("HEAD", {"Range": "bytes=0-"}), ("GET", {}),
                ("GET", {"Range": "bytes=0-"}), ("GET", {"Range": "bytes=5-10"}), ("HEAD", {})]
    issued = []
    for method, headers in attempts:
        answer = _ask(method, url, **headers)
        if "Location" in answer.headers:
            issued.append(answer.headers["Location"])
        elif answer.status_code == 200:  # a HEAD: headers only
            assert method == "HEAD" and answer.headers["Content-Length"] == str(len(data))
        else:
            assert answer.status_code == 410, answer.status_code
    assert len(issued) == 1
    whole = requests.get(issued[0], timeout=30)
    assert whole.status_code == 200 and whole.content == data
    assert row(link).download_count == 1
    assert len(events(Action.SHARE_DOWNLOADED, target_id=str(link["id"]))) == 1


def test_every_url_a_share_link_issues_on_s3_is_counted_and_audited(live_server, share, s3_file):
    meta, data = s3_file
    link = share(meta["id"])
    url = f"{live_server.url}/s/{link['token']}/download"
    issued = [_ask("GET", url, Range=header).headers["Location"] for header in ("bytes=100-", "bytes=0-", "bytes=-5")]
    issued.append(_ask("GET", url).headers["Location"])
    head = _ask("HEAD", url)
    assert head.status_code == 200 and "Location" not in head.headers and not head.content
    assert row(link).download_count == len(issued) == 4
    assert len(events(Action.SHARE_DOWNLOADED, target_id=str(link["id"]))) == 4
    assert requests.get(issued[0], timeout=30).content == data  # a "resumed" request's URL reads it all


def test_a_head_on_the_api_content_endpoint_issues_no_url_and_a_range_get_is_audited(
        live_server, alice, s3_file):
    meta, data = s3_file
    url = f"{live_server.url}/api/v1/files/{meta['id']}/content"
    auth = f"Bearer {token_issue(actor=alice, owner=alice, name='cli')[1]}"
    head = _ask("HEAD", url, Authorization=auth)
    assert head.status_code == 200 and "Location" not in head.headers
    assert head.headers["Content-Length"] == str(len(data))
    assert not events(Action.FILE_DOWNLOADED, actor=alice)
    ranged = _ask("GET", url, Authorization=auth, Range="bytes=100-")
    assert ranged.status_code == 302
    assert len(events(Action.FILE_DOWNLOADED, actor=alice)) == 1
    assert requests.get(ranged.headers["Location"], timeout=30).content == data


@pytest.fixture
def local_file(settings, tmp_path, api, alice, team, upload):
    from tests.files.support_s3 import use_local

    use_local(settings, tmp_path / "store")
    data = os.urandom(50_000)
    return upload(api.as_user(alice), team, "/Reports/q3.bin", data), data


def test_on_the_local_store_a_limited_link_serves_free_resumes_only_to_the_browser_that_started(
        live_server, share, local_file):
    meta, data = local_file
    link = share(meta["id"], max_downloads=2)
    url = f"{live_server.url}/s/{link['token']}/download"
    stranger = requests.Session()
    almost_all = stranger.get(url, headers={"Range": "bytes=1-"}, timeout=30)  # counted: it started nothing before
    assert almost_all.status_code == 206 and almost_all.content == data[1:]
    assert row(link).download_count == 1
    resumed = stranger.get(url, headers={"Range": "bytes=25000-"}, timeout=30)
    assert resumed.status_code == 206 and resumed.content == data[25000:]
    assert row(link).download_count == 1
    assert requests.head(url, headers={"Range": "bytes=1-"}, timeout=30).status_code == 206
    assert row(link).download_count == 1
    assert requests.get(url, headers={"Range": "bytes=1-"}, timeout=30).status_code == 206
    assert row(link).download_count == 2
    for header in ("bytes=1-", "bytes=0-0", None):
        assert requests.get(url, headers={"Range": header} if header else {}, timeout=30).status_code == 410
    assert len(events(Action.SHARE_DOWNLOADED, target_id=str(link["id"]))) == 2
