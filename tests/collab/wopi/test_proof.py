"""Proof keys: the three key combinations that survive a rotation, and the 20-minute window."""

from __future__ import annotations

import pytest

from portal.collab.wopi.proof import TICKS_PER_SECOND, proof_message, ticks_now
from tests.collab.wopi.conftest import discovery_xml, put

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def office_client(client_for, alice, team):
    return client_for(alice, put(alice, team, "report.docx", b"PK").node)


def test_the_signed_bytes_follow_the_spec_layout():
    message = proof_message("tok", "http://h/wopi/files/1?access_token=tok", 5)
    assert message[:4] == (3).to_bytes(4, "big") and message[4:7] == b"tok"
    assert b"HTTP://H/WOPI/FILES/1?ACCESS_TOKEN=TOK" in message
    assert message[-12:] == (8).to_bytes(4, "big") + (5).to_bytes(8, "big")


@pytest.mark.parametrize("proof_with", [("current", "old"), ("current", None), ("old", "current"),
                                        (None, "current")])
def test_requests_signed_with_an_accepted_key_combination_pass(office_client, proof_with):
    """Proof/current; ProofOld/current (the office server rotated, we have not fetched); Proof/old."""
    office_client.proof_with = proof_with
    assert office_client.check_file_info().status_code == 200


def test_a_signature_by_neither_key_is_refused_with_500(office_client, proof_keys):
    office_client.proof_with = ("old", "old")  # Proof by the old key is accepted only against the old key...
    assert office_client.check_file_info().status_code == 200
    office_client.proof_with = (None, "old")  # ...but ProofOld by the old key proves nothing
    assert office_client.check_file_info().status_code == 500
    office_client.proof_with = (None, None)
    assert office_client.check_file_info().status_code == 500


def test_a_tampered_url_fails_the_proof(office_client):
    sign = office_client._sign
    office_client._sign = lambda url: sign(url.replace("access_token", "ACCESS_TOKEN_X"))
    assert office_client.check_file_info().status_code == 500


def test_a_timestamp_older_than_twenty_minutes_is_refused(office_client):
    office_client.ticks = ticks_now() - 21 * 60 * TICKS_PER_SECOND
    assert office_client.check_file_info().status_code == 500
    office_client.ticks = ticks_now() - 19 * 60 * TICKS_PER_SECOND
    assert office_client.check_file_info().status_code == 200


def test_a_garbled_timestamp_or_signature_is_refused(office_client):
    office_client.ticks = None
    response = office_client.call("GET", headers={"X-WOPI-TimeStamp": "yesterday"})
    assert response.status_code == 500
    response = office_client.call("GET", headers={"X-WOPI-Proof": "!!not base64!!", "X-WOPI-ProofOld": ""})
    assert response.status_code == 500


def test_rotated_keys_are_fetched_again_when_a_signature_fails(office_client, office, proof_keys):
    """The office server rotated: its new key signs; discovery, fetched again, has it."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    assert office_client.check_file_info().status_code == 200  # discovery cached with the first keys
    newest = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rotated = {"current": newest, "old": proof_keys["current"]}
    office.body = discovery_xml(rotated)
    office_client.keys = rotated
    hits = len(office.hits)
    assert office_client.check_file_info().status_code == 200  # ProofOld by our cached current key
    assert len(office.hits) == hits
    office_client.proof_with = ("current", None)  # only the newest key signs: our keys must be fetched again
    assert office_client.check_file_info().status_code == 200
    assert len(office.hits) == hits + 1


def test_without_published_keys_no_proof_is_asked(office_client, office):
    from portal.collab.wopi.discovery import discovery_forget

    office.body = discovery_xml(None)
    discovery_forget()
    office_client.keys = None
    assert office_client.check_file_info().status_code == 200
