"""Bad input and faults over WebDAV: broken XML, depths, destinations,
overwrite rules, names, quota, authentication, and a client that hangs up
in the middle of a PUT."""

from __future__ import annotations

import socket

import pytest
import requests

from portal.files.models import FileVersion, Node
from portal.spaces.models import Membership, Space
from portal.spaces.services import space_create
from tests.dav.support import node_in, propfind
from tests.factories import PASSWORD
from tests.files.support_s3 import use_local, use_s3

# --- authentication and access -------------------------------------------------------------


def test_no_credentials_get_a_basic_challenge(live_dav, team):
    answer = requests.request("PROPFIND", live_dav.dav("/team/"), headers={"Depth": "0"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Basic ")


def test_the_account_password_is_never_accepted(live_dav, dav, alice):
    answer = dav.request("PROPFIND", live_dav.dav("/"), headers={"Depth": "0"}, auth=("alice", PASSWORD))
    assert answer.status_code == 401


def test_a_token_sent_with_another_users_name_is_refused(live_dav, dav, alice_dav, bob):
    answer = dav.request("PROPFIND", live_dav.dav("/"), headers={"Depth": "0"}, auth=("bob", alice_dav.token))
    assert answer.status_code == 401


def test_outsiders_see_no_space_where_they_are_not_members(live_dav, team, bob, dav_user_of):
    bobs = dav_user_of(bob).session()
    assert propfind(bobs, live_dav.dav("/team/"), depth="0").status_code == 404
    assert bobs.put(live_dav.dav("/team/x.txt"), data=b"x").status_code == 409  # no such parent, for bob
    assert bobs.get(live_dav.dav("/nonexistent/")).status_code == 404


def test_viewers_read_but_cannot_write(live_dav, dav, team, bob, dav_user_of):
    Membership.objects.create(space=team, user=bob, role="viewer")
    dav.put(dav.base + "/r.txt", data=b"r")
    bobs = dav_user_of(bob).session()
    assert bobs.get(dav.base + "/r.txt").content == b"r"
    assert bobs.put(dav.base + "/r.txt", data=b"w").status_code == 403
    assert bobs.delete(dav.base + "/r.txt").status_code == 403
    assert bobs.request("MKCOL", dav.base + "/d").status_code == 403


# --- request bodies and headers ---------------------------------------------------------------


def test_malformed_xml_bodies_are_bad_requests(dav):
    dav.put(dav.base + "/f.txt", data=b"f")
    assert propfind(dav, dav.base + "/", depth="1", body=b"<D:propfind xmlns:D='DAV:'><D:prop>").status_code == 400
    assert dav.request("PROPPATCH", dav.base + "/f.txt", data=b"<not-xml").status_code == 400
    assert dav.request("LOCK", dav.base + "/f.txt", data=b"<?xml version='1.0'?><D:lockinfo xmlns:D='DAV:'>",
                       headers={"Depth": "0"}).status_code == 400


def test_xml_entities_are_not_expanded(dav):
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&b;</D:displayname></D:prop></D:propfind>')
    assert propfind(dav, dav.base + "/", depth="0", body=bomb).status_code in (207, 400)


def test_huge_xml_bodies_are_refused_before_they_are_read(dav):
    assert propfind(dav, dav.base + "/", depth="0", body=b" " * (2 * 1024 * 1024)).status_code == 413


def test_propfind_depth_infinity_is_refused_and_odd_depths_are_bad_requests(dav):
    infinite = propfind(dav, dav.base + "/", depth="infinity")
    assert infinite.status_code == 403 and "propfind-finite-depth" in infinite.text
    assert dav.request("PROPFIND", dav.base + "/").status_code == 403  # no Depth header means infinity
    assert propfind(dav, dav.base + "/", depth="99999999999").status_code == 400
    assert propfind(dav, dav.base + "/", depth="2").status_code == 400


def test_a_destination_outside_the_mount_is_refused(live_dav, dav):
    dav.put(dav.base + "/f.txt", data=b"f")
    elsewhere = dav.request("COPY", dav.base + "/f.txt", headers={"Destination": live_dav.url + "/api/v1/x"})
    assert elsewhere.status_code == 502
    other_host = dav.request("MOVE", dav.base + "/f.txt", headers={"Destination": "http://example.com/dav/team/g"})
    assert other_host.status_code == 502
    onto_spaces = dav.request("MOVE", dav.base + "/f.txt", headers={"Destination": live_dav.dav("/newspace")})
    assert onto_spaces.status_code in (403, 409)
    assert dav.get(dav.base + "/f.txt").content == b"f"


def test_a_destination_in_a_space_without_rights_is_refused(live_dav, dav, team, bob, alice):
    bobs_space = space_create(actor=bob, name="Bob only")
    dav.put(dav.base + "/f.txt", data=b"f")
    hidden = dav.request("COPY", dav.base + "/f.txt", headers={"Destination": live_dav.dav(f"/{bobs_space.slug}/f.txt")})
    assert hidden.status_code == 409  # not even told that it exists
    Membership.objects.create(space=bobs_space, user=alice, role="viewer")
    read_only = dav.request("MOVE", dav.base + "/f.txt",
                            headers={"Destination": live_dav.dav(f"/{bobs_space.slug}/f.txt")})
    assert read_only.status_code == 403
    assert dav.get(dav.base + "/f.txt").content == b"f"
    assert Space.objects.get(pk=bobs_space.pk).used_bytes == 0


def test_overwrite_f_never_replaces_the_destination(dav, team):
    dav.put(dav.base + "/a.txt", data=b"a")
    dav.put(dav.base + "/b.txt", data=b"b")
    for method in ("COPY", "MOVE"):
        answer = dav.request(method, dav.base + "/a.txt", headers={"Destination": dav.base + "/b.txt",
                                                                   "Overwrite": "F"})
        assert answer.status_code == 412
    assert dav.get(dav.base + "/b.txt").content == b"b"
    assert dav.get(dav.base + "/a.txt").content == b"a"
    assert dav.request("COPY", dav.base + "/a.txt", headers={"Destination": dav.base + "/b.txt",
                                                            "Overwrite": "X"}).status_code == 400


@pytest.mark.parametrize("name", ["trailing-dot.", "trailing-space%20", "back%5Cslash", "ctrl%01char",
                                  "x" * 256])
def test_names_that_break_the_naming_rules_are_refused(dav, team, name):
    assert dav.put(dav.base + "/" + name, data=b"x").status_code == 400
    assert dav.request("MKCOL", dav.base + "/" + name).status_code == 400
    assert not Node.objects.filter(space=team, parent__isnull=False).exists()


def test_a_move_to_a_bad_name_is_refused(dav, team):
    dav.put(dav.base + "/ok.txt", data=b"x")
    assert dav.request("MOVE", dav.base + "/ok.txt", headers={"Destination": dav.base + "/bad."}).status_code == 400
    assert dav.get(dav.base + "/ok.txt").content == b"x"


def test_a_put_beyond_the_quota_is_refused_with_507(dav, team):
    Space.objects.filter(pk=team.pk).update(quota_bytes=100)
    assert dav.put(dav.base + "/small.bin", data=b"x" * 60).status_code == 201
    assert dav.put(dav.base + "/big.bin", data=b"x" * 60).status_code == 507
    assert Space.objects.get(pk=team.pk).used_bytes == 60
    assert dav.request("COPY", dav.base + "/small.bin",
                       headers={"Destination": dav.base + "/copy.bin"}).status_code == 507


def test_the_spaces_list_and_space_roots_cannot_be_changed(live_dav, dav, team):
    assert dav.request("MKCOL", live_dav.dav("/brand-new")).status_code == 403
    assert dav.put(live_dav.dav("/loose.txt"), data=b"x").status_code == 403
    assert dav.delete(dav.base + "/").status_code == 403
    assert dav.request("MOVE", dav.base + "/", headers={"Destination": live_dav.dav("/renamed/")}).status_code \
        in (403, 409)


# --- a client that goes away mid-PUT ------------------------------------------------------------


def _abandoned_put(live_dav, alice_dav, path: str, *, announced: int, sent: bytes) -> None:
    """Send a PUT's headers and part of its body, then hang up; return once
    the server has finished with the request."""
    import base64

    before = live_dav.finished.count
    credentials = base64.b64encode(f"{alice_dav.auth[0]}:{alice_dav.auth[1]}".encode()).decode()
    with socket.create_connection(("127.0.0.1", live_dav.port)) as conn:
        conn.sendall((f"PUT /dav{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {credentials}\r\n"
                      f"Content-Length: {announced}\r\n\r\n").encode() + sent)
        conn.shutdown(socket.SHUT_WR)
    live_dav.finished.wait_for(before + 1)


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_a_client_that_hangs_up_mid_put_leaves_the_previous_version_current(
        request, settings, tmp_path, live_dav, dav, alice_dav, team, backend):
    store = use_local(settings, tmp_path / "objects") if backend == "local" \
        else use_s3(settings, request.getfixturevalue("seaweed"))
    original = b"first version " * 1000
    assert dav.put(dav.base + "/doc.bin", data=original).status_code == 201
    objects_before = {info.key for info in store.iter_objects("blobs/")}
    used_before = Space.objects.get(pk=team.pk).used_bytes

    _abandoned_put(live_dav, alice_dav, "/team/doc.bin", announced=40 * 1024 * 1024, sent=b"y" * (3 * 1024 * 1024))
    _abandoned_put(live_dav, alice_dav, "/team/new.bin", announced=20 * 1024 * 1024, sent=b"z" * 1024)

    doc = node_in(team, ["doc.bin"])
    assert doc.current_version.number == 1
    assert FileVersion.objects.filter(node__space=team).count() == 1
    assert not Node.objects.filter(space=team, name="new.bin").exists()
    assert {info.key for info in store.iter_objects("blobs/")} == objects_before
    assert Space.objects.get(pk=team.pk).used_bytes == used_before
    assert dav.get(dav.base + "/doc.bin").content == original
