"""Chunking, ids, compression and encryption — the formats of docs/backup-protocol.md."""

import io
import os
import random

import pytest

from sync_agent import chunker, crypto
from sync_agent.errors import IntegrityError

MiB = 1024 * 1024
KEYS = crypto.Keys(bytes(range(32)), bytes(range(32, 64)))


def noise(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def test_a_small_file_is_one_chunk():
    data = noise(300_000, 1)
    assert list(chunker.iter_chunks(io.BytesIO(data), len(data))) == [data]


def test_an_empty_file_has_no_chunks():
    assert list(chunker.iter_chunks(io.BytesIO(b""), 0)) == []


def test_chunks_respect_the_size_limits_and_rebuild_the_file():
    data = noise(40 * MiB, 2)
    chunks = list(chunker.iter_chunks(io.BytesIO(data), len(data)))
    assert b"".join(chunks) == data
    assert all(chunker.MIN_SIZE <= len(c) <= chunker.MAX_SIZE for c in chunks[:-1])
    average = len(data) / len(chunks)
    assert 0.6 * MiB < average < 2 * MiB


def test_an_edit_in_the_middle_changes_only_the_chunks_around_it():
    data = bytearray(noise(20 * MiB, 3))
    before = list(chunker.iter_chunks(io.BytesIO(bytes(data)), len(data)))
    data[10 * MiB:10 * MiB + 100] = b"x" * 100
    after = list(chunker.iter_chunks(io.BytesIO(bytes(data)), len(data)))
    changed = set(after) - set(before)
    assert 1 <= len(changed) <= 2
    assert len(set(before) & set(after)) >= len(before) - 2


def test_a_file_that_grows_past_the_small_size_while_read_is_still_chunked_whole():
    data = noise(3 * MiB, 4)
    chunks = list(chunker.iter_chunks(io.BytesIO(data), size_hint=100))
    assert b"".join(chunks) == data and len(chunks) > 1


def test_a_blob_round_trips_compressed_or_not():
    for plaintext in (b"a" * 100_000, noise(100_000, 5), b""):
        cid = crypto.chunk_id(KEYS, plaintext)
        blob = crypto.seal(KEYS, cid, plaintext)
        assert crypto.unseal(KEYS, cid, blob) == plaintext
    compressible = b"a" * 100_000
    cid = crypto.chunk_id(KEYS, compressible)
    assert len(crypto.seal(KEYS, cid, compressible)) < 1000


def test_a_chunk_id_is_keyed_blake3():
    import blake3

    assert crypto.chunk_id(KEYS, b"hello") == blake3.blake3(b"hello", key=KEYS.id_key).hexdigest()
    assert crypto.chunk_id(KEYS, b"hello") != crypto.chunk_id(crypto.Keys(bytes(32), bytes(32)), b"hello")


def test_a_tampered_or_misnamed_blob_is_refused():
    cid = crypto.chunk_id(KEYS, b"data")
    blob = bytearray(crypto.seal(KEYS, cid, b"data"))
    blob[-1] ^= 1
    with pytest.raises(IntegrityError):
        crypto.unseal(KEYS, cid, bytes(blob))
    with pytest.raises(IntegrityError):
        crypto.unseal(KEYS, crypto.chunk_id(KEYS, b"other"), crypto.seal(KEYS, cid, b"data"))


def test_the_blob_layout_is_nonce_then_aes_gcm_of_flag_and_payload():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = bytes(12)
    cid = crypto.chunk_id(KEYS, b"xyz")
    blob = crypto.seal(KEYS, cid, b"xyz", nonce=nonce)
    assert blob[:12] == nonce
    assert AESGCM(KEYS.data_key).decrypt(nonce, blob[12:], bytes.fromhex(cid)) == b"\x00xyz"


def test_the_agent_reads_what_the_portal_seals_and_the_other_way_round():
    portal_crypto = pytest.importorskip("portal.backups.crypto")
    data = b"shared format " * 1000
    cid = crypto.chunk_id(KEYS, data)
    assert portal_crypto.chunk_id(KEYS.id_key, data) == cid
    assert crypto.unseal(KEYS, cid, portal_crypto.seal_blob(KEYS.data_key, cid, data)) == data
    assert portal_crypto.open_blob(KEYS.data_key, cid, crypto.seal(KEYS, cid, data), id_key=KEYS.id_key) == data
    entries = [{"name": "b", "type": "file", "mode": 0o644, "mtime_ns": 1, "size": 0, "chunks": []},
               {"name": "a", "type": "dir", "mode": 0o755, "mtime_ns": 2, "tree": "0" * 64}]
    from sync_agent import tree

    assert tree.encode(entries) == portal_crypto.tree_encode(entries)


def test_random_keys_are_used_for_real_blobs():
    cid = crypto.chunk_id(KEYS, b"same")
    assert crypto.seal(KEYS, cid, b"same") != crypto.seal(KEYS, cid, b"same")  # fresh nonce
    assert len(os.urandom(12)) == crypto.NONCE_SIZE


@pytest.mark.parametrize("plaintext, cid, blob", [
    (b"coffer test vector", "65e5ea00a65f9977bbf952fdbd3a22e06bd5eddb5e9cef6c7b0f6bf5404f03e9",
     "000102030405060708090a0b5c3132c12c5099ccc89cbab206053b5f671f9bcdc213a8a9bbd983b44b20d87cefc1ad"),
    (b"coffer " * 16, "e3ad509ec9431873c174a57bc48a32d8ab1bb32d3c45512f3cb724fbcae2217e",
     "000102030405060708090a0b5d7ae888b7159b99bcf9f1a5491538596150e8642c78971388d5779ca80adf86f5cd7d31fac98da9"),
])
def test_the_fixed_vector_of_the_protocol_doc(plaintext, cid, blob):
    keys = crypto.Keys(bytes(range(32)), bytes(range(32, 64)))
    assert crypto.chunk_id(keys, plaintext) == cid
    assert crypto.seal(keys, cid, plaintext, nonce=bytes.fromhex("000102030405060708090a0b")).hex() == blob
    assert crypto.unseal(keys, cid, bytes.fromhex(blob)) == plaintext
