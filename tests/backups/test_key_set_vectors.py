"""The test vectors of docs/backup-protocol.md ("Keys and identities"), read
from the page itself and checked against the portal's and the agent's code."""

import re
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from portal.backups import crypto
from portal.backups.keys import _wrapping_key, unwrap, wrap
from sync_agent import crypto as agent_crypto

DOC = (Path(__file__).resolve().parents[2] / "docs" / "backup-protocol.md").read_text()
NONCE = bytes.fromhex("000102030405060708090a0b")
MASTER = "coffer test master key"
USER_A = (bytes(range(32)), bytes(range(32, 64)))
USER_B = (bytes(range(64, 96)), bytes(range(96, 128)))


def _vector_rows() -> dict[str, list[tuple[str, str]]]:
    """plaintext label -> [(chunk id, blob hex), ...] in the order the page lists them."""
    rows: dict[str, list[tuple[str, str]]] = {}
    for label, cid, blob in re.findall(r"^\| `(b\"[^`]+\")` \(flag \d\) \| `([0-9a-f]{64})` \| `([0-9a-f]+)` \|$",
                                       DOC, re.M):
        rows.setdefault(label, []).append((cid, blob))
    return rows


def test_the_same_plaintext_has_unrelated_ids_and_blobs_under_two_users_key_sets():
    (first, second) = _vector_rows()['b"coffer test vector"']
    plaintext = b"coffer test vector"
    for (id_key, data_key), (cid, blob) in ((USER_A, first), (USER_B, second)):
        assert crypto.chunk_id(id_key, plaintext) == cid
        assert crypto.seal_blob(data_key, cid, plaintext, nonce=NONCE).hex() == blob
        keys = agent_crypto.Keys(id_key, data_key)
        assert agent_crypto.chunk_id(keys, plaintext) == cid
        assert agent_crypto.seal(keys, cid, plaintext, nonce=NONCE).hex() == blob
    assert first[0] != second[0]
    # Each user's keys open only that user's blob.
    assert crypto.open_blob(USER_B[1], second[0], bytes.fromhex(second[1]), id_key=USER_B[0]) == plaintext
    assert agent_crypto.unseal(agent_crypto.Keys(*USER_A), first[0], bytes.fromhex(first[1])) == plaintext
    for data_key, (cid, blob) in ((USER_A[1], second), (USER_B[1], first)):
        with pytest.raises(crypto.BlobInvalid):
            crypto.open_blob(data_key, cid, bytes.fromhex(blob))


def test_key_wrapping_matches_the_documented_vector():
    wrapping = re.search(r"the wrapping key is\s+`([0-9a-f]{64})`", DOC).group(1)
    wrapped_id = re.search(r"wraps \(label `b\"id\"`\) to\s+`([A-Za-z0-9+/=]+)`", DOC).group(1)
    wrapped_data = re.search(r"\(label `b\"data\"`\) to\s+`([A-Za-z0-9+/=]+)`", DOC).group(1)
    assert _wrapping_key(MASTER).hex() == wrapping
    assert wrap(USER_A[0], b"id", master_key=MASTER, nonce=NONCE) == wrapped_id
    assert wrap(USER_A[1], b"data", master_key=MASTER, nonce=NONCE) == wrapped_data
    assert unwrap(wrapped_id, b"id", master_key=MASTER) == USER_A[0]
    assert unwrap(wrapped_data, b"data", master_key=MASTER) == USER_A[1]


def test_a_wrapped_key_does_not_open_under_another_master_key_or_label():
    wrapped = wrap(USER_A[0], b"id", master_key=MASTER)
    for master, label in (("another master key", b"id"), (MASTER, b"data")):
        with pytest.raises(InvalidTag):
            unwrap(wrapped, label, master_key=master)
