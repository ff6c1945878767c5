"""WebDAV methods against a live portal, checked both on the wire and in
Coffer's own records: versions, the trash, quota and the audit log."""

from __future__ import annotations

from lxml import etree

from portal.audit.actions import Action
from portal.dav.models import DeadProperty
from portal.files.models import Node
from portal.spaces.services import space_create
from tests.dav.support import NS, hrefs, node_in, propfind, proppatch
from tests.helpers import last_event


def node(space, path: str) -> Node:
    return node_in(space, [part for part in path.split("/") if part])


def test_options_announces_class_1_and_2(dav):
    answer = dav.options(dav.base + "/")
    assert answer.status_code == 200
    assert {"1", "2"} <= {part.strip() for part in answer.headers["DAV"].split(",")}
    assert {"PROPFIND", "LOCK", "UNLOCK", "COPY", "MOVE"} <= set(answer.headers["Allow"].replace(" ", "").split(","))


def test_the_mount_root_lists_the_users_spaces_by_slug(live_dav, dav, alice, team):
    other = space_create(actor=alice, name="Design & Brand")
    listed = hrefs(propfind(dav, live_dav.dav("/"), depth="1"))
    assert f"/dav/{team.slug}/" in listed and f"/dav/{other.slug}/" in listed
    assert other.slug == "design-brand"


def test_propfind_depth_0_and_1_describe_a_folder_and_its_members(dav, team):
    dav.request("MKCOL", dav.base + "/docs")
    dav.put(dav.base + "/docs/a.txt", data=b"12345")
    assert hrefs(propfind(dav, dav.base + "/docs", depth="0")) == ["/dav/team/docs/"]
    answer = propfind(dav, dav.base + "/docs", depth="1")
    assert sorted(hrefs(answer)) == ["/dav/team/docs/", "/dav/team/docs/a.txt"]
    tree = etree.fromstring(answer.content)
    length = tree.find(".//D:response[D:href='/dav/team/docs/a.txt']//D:getcontentlength", NS)
    assert length.text == "5"


def test_get_with_a_range_head_and_every_put_is_a_new_version(dav, team, alice):
    url = dav.base + "/report.bin"
    body = bytes(range(256)) * 64
    assert dav.put(url, data=body, headers={"User-Agent": "DAV-test/1.0"}).status_code == 201
    assert dav.put(url, data=body[::-1]).status_code == 204
    file = node(team, "/report.bin")
    assert file.versions.count() == 2 and file.current_version.number == 2
    assert dav.get(url).content == body[::-1]
    part = dav.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == body[::-1][100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(body)}"
    head = dav.head(url)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(body)) and not head.content
    uploaded = last_event(Action.FILE_UPLOADED, actor=alice)
    assert uploaded.details["version"] == 2
    downloaded = last_event(Action.FILE_DOWNLOADED, actor=alice)
    assert downloaded.ip == "127.0.0.1"


def test_an_upload_over_webdav_is_audited_with_the_clients_address_and_agent(dav, alice):
    dav.put(dav.base + "/notes.txt", data=b"x", headers={"User-Agent": "LibreOffice/7.4"})
    event = last_event(Action.FILE_UPLOADED, actor=alice)
    assert (event.ip, event.user_agent, event.target_label) == ("127.0.0.1", "LibreOffice/7.4", "/notes.txt")


def test_mkcol_makes_a_folder_and_refuses_an_existing_name_or_a_missing_parent(dav, team):
    assert dav.request("MKCOL", dav.base + "/projects").status_code == 201
    assert node(team, "/projects").is_folder
    assert dav.request("MKCOL", dav.base + "/projects").status_code == 405
    assert dav.request("MKCOL", dav.base + "/nowhere/deeper").status_code == 409


def test_delete_moves_to_the_trash_where_it_can_be_restored(dav, team):
    dav.put(dav.base + "/old.txt", data=b"keep me")
    file = node(team, "/old.txt")
    assert dav.delete(dav.base + "/old.txt").status_code == 204
    assert dav.get(dav.base + "/old.txt").status_code == 404
    file.refresh_from_db()
    assert file.trashed_at is not None  # in the trash, not gone


def test_copy_and_move_go_through_the_tree_services(dav, team, alice):
    dav.request("MKCOL", dav.base + "/src")
    dav.put(dav.base + "/src/a.txt", data=b"alpha")
    copied = dav.request("COPY", dav.base + "/src", headers={"Destination": dav.base + "/copy"})
    assert copied.status_code == 201
    assert dav.get(dav.base + "/copy/a.txt").content == b"alpha"
    assert last_event(Action.FILE_COPIED, actor=alice).target_label == "/copy"
    again = dav.request("COPY", dav.base + "/src", headers={"Destination": dav.base + "/copy"})
    assert again.status_code == 204  # overwrite: the old copy went to the trash first
    moved = dav.request("MOVE", dav.base + "/src/a.txt", headers={"Destination": dav.base + "/b.txt"})
    assert moved.status_code == 201
    assert dav.get(dav.base + "/b.txt").content == b"alpha"
    assert dav.get(dav.base + "/src/a.txt").status_code == 404
    assert last_event(Action.FILE_MOVED, actor=alice).details["to"] == "/b.txt"


def test_a_move_that_only_changes_case_renames_the_file(dav, team):
    dav.put(dav.base + "/readme.txt", data=b"r")
    moved = dav.request("MOVE", dav.base + "/readme.txt", headers={"Destination": dav.base + "/README.txt"})
    assert moved.status_code in (201, 204)
    assert node(team, "/readme.txt").name == "README.txt"


def test_copy_between_two_spaces_of_the_user_moves_quota(live_dav, dav, alice, team):
    other = space_create(actor=alice, name="Archive")
    dav.put(dav.base + "/big.bin", data=b"x" * 1000)
    answer = dav.request("COPY", dav.base + "/big.bin", headers={"Destination": live_dav.dav("/archive/big.bin")})
    assert answer.status_code == 201
    other.refresh_from_db()
    assert other.used_bytes == 1000


def test_proppatch_stores_dead_properties_that_follow_moves(dav, team):
    dav.put(dav.base + "/tagged.txt", data=b"t")
    answer = dav.request("PROPPATCH", dav.base + "/tagged.txt", data=proppatch("color", "blue"))
    assert answer.status_code == 207 and "200 OK" in answer.text
    assert DeadProperty.objects.get(node=node(team, "/tagged.txt")).name == "{http://example.com/coffer/}color"
    dav.request("MOVE", dav.base + "/tagged.txt", headers={"Destination": dav.base + "/moved.txt"})
    body = (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="http://example.com/coffer/">'
            b"<D:prop><Z:color/></D:prop></D:propfind>")
    found = propfind(dav, dav.base + "/moved.txt", depth="0", body=body)
    color = etree.fromstring(found.content).find(".//{http://example.com/coffer/}color")
    assert color.text == "blue"


def test_live_properties_cannot_be_patched(dav):
    dav.put(dav.base + "/f.txt", data=b"f")
    body = (b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
            b"<D:getcontentlength>5</D:getcontentlength></D:prop></D:set></D:propertyupdate>")
    answer = dav.request("PROPPATCH", dav.base + "/f.txt", data=body)
    assert answer.status_code == 207 and "403 Forbidden" in answer.text


def test_a_utf8_name_round_trips_and_matches_ignoring_case(dav, team):
    data = "Grüße, 世界".encode()
    assert dav.put(dav.base + "/Grüße 世界.txt", data=data).status_code == 201
    assert dav.get(dav.base + "/Grüße 世界.txt").content == data
    assert node(team, "/Grüße 世界.txt").size == len(data)
    assert dav.get(dav.base + "/gRÜSSE 世界.txt").content == data  # casefold: ß matches SS


def test_a_stored_html_file_never_runs_as_the_portal_in_a_browser(dav):
    dav.put(dav.base + "/evil.html", data=b"<script>alert(document.cookie)</script>")
    got = dav.get(dav.base + "/evil.html")
    assert got.headers["Content-Type"].startswith("text/html")  # the true type, for WebDAV clients
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in got.headers["Content-Security-Policy"]
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    dav.put(dav.base + "/photo.png", data=b"\x89PNG")
    assert dav.get(dav.base + "/photo.png").headers["Content-Disposition"].startswith("inline")
