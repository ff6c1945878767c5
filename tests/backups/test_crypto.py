"""The blob format against the fixed vectors in docs/backup-protocol.md
(the agent's tests check the same vectors)."""

import re
from pathlib import Path

import pytest

from portal.backups import crypto

ID_KEY = bytes(range(32))
DATA_KEY = bytes(range(32, 64))
NONCE = bytes.fromhex("000102030405060708090a0b")
VECTORS = [
    # (plaintext, chunk id, blob hex)
    (b"coffer test vector",
     "65e5ea00a65f9977bbf952fdbd3a22e06bd5eddb5e9cef6c7b0f6bf5404f03e9",
     "000102030405060708090a0b5c3132c12c5099ccc89cbab206053b5f671f9bcdc213a8a9bbd983b44b20d87cefc1ad"),
    (b"coffer " * 16,
     "e3ad509ec9431873c174a57bc48a32d8ab1bb32d3c45512f3cb724fbcae2217e",
     "000102030405060708090a0b5d7ae888b7159b99bcf9f1a5491538596150e8642c78971388d5779ca80adf86f5cd7d31fac98da9"),
]
DOC = Path(__file__).resolve().parents[2] / "docs" / "backup-protocol.md"


@pytest.mark.parametrize(("plaintext", "cid", "blob"), VECTORS)
def test_the_fixed_vectors_seal_to_the_documented_bytes(plaintext, cid, blob):
    assert crypto.chunk_id(ID_KEY, plaintext) == cid
    assert crypto.seal_blob(DATA_KEY, cid, plaintext, nonce=NONCE).hex() == blob
    assert crypto.open_blob(DATA_KEY, cid, bytes.fromhex(blob), id_key=ID_KEY) == plaintext


def test_the_protocol_document_carries_the_same_vectors():
    text = DOC.read_text()
    for _, cid, blob in VECTORS:
        assert cid in text and blob in text


def test_compressible_chunks_are_stored_compressed_and_others_plain():
    short = crypto.seal_blob(DATA_KEY, "0" * 64, b"abc", nonce=NONCE)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    assert AESGCM(DATA_KEY).decrypt(NONCE, short[12:], bytes(32))[0] == crypto.FLAG_PLAIN
    long = crypto.seal_blob(DATA_KEY, "0" * 64, b"a" * 1000, nonce=NONCE)
    assert AESGCM(DATA_KEY).decrypt(NONCE, long[12:], bytes(32))[0] == crypto.FLAG_ZSTD
    assert len(long) < 100


def test_a_blob_opened_under_another_id_or_tampered_is_refused():
    cid = crypto.chunk_id(ID_KEY, b"data")
    blob = crypto.seal_blob(DATA_KEY, cid, b"data")
    with pytest.raises(crypto.BlobInvalid):
        crypto.open_blob(DATA_KEY, "1" * 64, blob)
    with pytest.raises(crypto.BlobInvalid):
        crypto.open_blob(DATA_KEY, cid, blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(crypto.BlobInvalid):
        crypto.open_blob(DATA_KEY, cid, b"short")


def test_a_blob_whose_plaintext_has_another_id_is_refused_when_ids_are_checked():
    blob = crypto.seal_blob(DATA_KEY, "2" * 64, b"data")
    assert crypto.open_blob(DATA_KEY, "2" * 64, blob) == b"data"
    with pytest.raises(crypto.BlobInvalid):
        crypto.open_blob(DATA_KEY, "2" * 64, blob, id_key=ID_KEY)


def test_tree_objects_are_compact_sorted_utf8_json():
    encoded = crypto.tree_encode([{"name": "b", "type": "file", "size": 1}, {"name": "ä", "type": "dir"},
                                  {"name": "a", "type": "file"}])
    assert encoded == '{"entries":[{"name":"a","type":"file"},{"name":"b","size":1,"type":"file"},' \
                      '{"name":"ä","type":"dir"}]}'.encode()
    assert [e["name"] for e in crypto.tree_decode(encoded)] == ["a", "b", "ä"]
    assert re.fullmatch(r"[0-9a-f]{64}", crypto.chunk_id(ID_KEY, encoded))
