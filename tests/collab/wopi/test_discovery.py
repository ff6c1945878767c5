"""Discovery: fetched from a real loopback server, parsed safely, cached; and the Open in office link."""

from __future__ import annotations

import pytest

from portal.collab.wopi.discovery import action_src, discovery_forget, discovery_get, parse, DiscoveryError
from portal.collab.wopi.links import office_open_url
from tests.collab.wopi.conftest import EDITOR_SRC, put

pytestmark = pytest.mark.django_db(transaction=True)

ONLYOFFICE_SRC = ("https://docs.invalid/hosting/wopi/word/edit?&<rs=DC_LLCC&><dchat=DISABLE_CHAT&>"
                  "<ui=UI_LLCC&><wopisrc=WOPI_SOURCE&>&")


def test_discovery_gives_actions_per_extension_and_both_proof_keys(office, proof_keys):
    found = discovery_get()
    assert found.action_url("docx") == ("edit", EDITOR_SRC)
    assert found.action_url("DOCX") == ("edit", EDITOR_SRC)
    assert found.action_url("pdf") == ("view", EDITOR_SRC)
    assert found.action_url("exe") is None
    assert found.proof_key.modulus == proof_keys["current"].public_key().public_numbers().n
    assert found.proof_key_old.modulus == proof_keys["old"].public_key().public_numbers().n


def test_discovery_is_fetched_once_and_cached(office):
    discovery_get()
    discovery_get()
    assert len(office.hits) == 1


def test_an_unreachable_office_server_means_no_office_link_and_is_not_asked_again_at_once(office, alice, team):
    node = put(alice, team, "report.docx", b"PK").node
    office.status = 503
    assert discovery_get() is None
    assert office_open_url(node) is None
    assert len(office.hits) == 1  # the failure is remembered for a minute


def test_office_open_url_for_files_the_office_server_edits(office, alice, team):
    docx = put(alice, team, "report.docx", b"PK").node
    text = put(alice, team, "notes.bin", b"x").node
    assert office_open_url(docx) == f"/office/{docx.pk}/"
    assert office_open_url(text) is None
    assert office_open_url(docx.parent) is None  # a folder


def test_no_office_link_without_a_configured_office_server(settings, alice, team):
    settings.WOPI_DISCOVERY_URL = ""
    assert office_open_url(put(alice, team, "report.docx", b"PK").node) is None


def test_discovery_with_entities_or_another_root_is_refused():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
            b"<wopi-discovery>&b;</wopi-discovery>")
    with pytest.raises(DiscoveryError):
        parse(bomb)
    with pytest.raises(DiscoveryError):
        parse(b"<html><body>proxy error</body></html>")
    with pytest.raises(DiscoveryError):
        parse(b"not xml at all")


def test_a_bad_document_from_the_server_means_no_discovery(office):
    office.body = b"<html>login page</html>"
    discovery_forget()
    assert discovery_get() is None


def test_urlsrc_placeholders_are_filled_or_removed_and_wopisrc_added():
    collabora = action_src(EDITOR_SRC, wopi_src="http://portal/wopi/files/7", language="zh-CN")
    assert collabora == EDITOR_SRC + "WOPISrc=http%3A%2F%2Fportal%2Fwopi%2Ffiles%2F7"
    onlyoffice = action_src(ONLYOFFICE_SRC, wopi_src="http://portal/wopi/files/7", language="zh-CN")
    assert onlyoffice == ("https://docs.invalid/hosting/wopi/word/edit?rs=zh-CN&ui=zh-CN"
                          "&wopisrc=http%3A%2F%2Fportal%2Fwopi%2Ffiles%2F7")
    assert "<" not in action_src("https://x.invalid/v?<unknown=SOME_THING&>", wopi_src="w")
