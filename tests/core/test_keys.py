"""derive_key(purpose): each purpose's key is pinned to the bytes the three
derivations it replaced produced (computed with the code of commit ac73238
for the same master key), so wrapped backup key sets, sealed share-link
tokens and sealed audit chains made before keep opening."""

import pytest
from django.test import override_settings

from portal.audit import chain
from portal.backups import keys as backup_keys
from portal.core.keys import AUDIT_CHAIN, BACKUP_KEYS, SHARE_LINK_TOKENS, derive_key
from portal.shares import tokens as share_tokens

MASTER = "pinned-master-key-for-derive-tests"
PINNED = {
    # HKDF-SHA256(info=b"coffer backup keys"), backups/keys.py
    BACKUP_KEYS: "fb92dc637539348eb1454461f6fbfbd4c68b8dcdc2bb909b5b0602221579f3b6",
    # HKDF-SHA256(info=b"coffer share-link tokens"), shares/tokens.py
    SHARE_LINK_TOKENS: "6d5ef563b429564c2783cc5d6bfdd1547f64fbc57fbee9805c53ee8f266c3fd5",
    # HMAC-SHA256(key=master, b"coffer/audit-chain/v1"), audit/chain.py
    AUDIT_CHAIN: "ef0fc330d3882b1da66e9610ed5503d913e1041c11c72aecdf15789e1c57c657",
}
# Made by the old code under MASTER: a share token and its sealed form, a
# wrapped backup key (nonce zero), the chain key of a rotated-away master key.
OLD_TOKEN = "9870625a42eab89dHSvxXn_UDNl2d61GAD9T5bQsb6E_4ZjD"
OLD_SEALED = "va0lzFr_LQC6NkcT9EI55uuR1NxHhLfIcaBVixMlaI9EF7RlpaEdfskj3lisHW6aat6NRCMit0aY9vTmWIbcJ_ihj_L2CqkxSYvNKw=="
OLD_WRAPPED = "AAAAAAAAAAAAAAAARrjvv7OFhkvSz4bS+pT2au9CFcnO93hG6SlW1bjZRkbjnGuXFyr0XHYmHSa6RBlh"
OLD_CHAIN_OF_ROTATED = "f1f66d48a17b9ce00bfafb809bf96ee60d1a57635bd55a3a95dc6c899b9df1a3"


@pytest.mark.parametrize("purpose", sorted(PINNED))
def test_each_purpose_derives_the_same_bytes_as_before(purpose):
    assert derive_key(purpose, master_key=MASTER).hex() == PINNED[purpose]
    with override_settings(MASTER_KEY=MASTER):
        assert derive_key(purpose).hex() == PINNED[purpose]


def test_purposes_get_different_keys_and_the_master_key_changes_them_all():
    assert len({derive_key(purpose, master_key=MASTER) for purpose in PINNED}) == len(PINNED)
    for purpose in PINNED:
        assert derive_key(purpose, master_key=MASTER + "x").hex() != PINNED[purpose]


def test_an_unknown_purpose_is_refused():
    with pytest.raises(ValueError, match="no-such-purpose"):
        derive_key("no-such-purpose", master_key=MASTER)


@override_settings(MASTER_KEY=MASTER, AUDIT_CHAIN_KEY="")
def test_data_sealed_by_the_old_code_still_opens():
    assert share_tokens.unseal(OLD_SEALED) == OLD_TOKEN
    assert share_tokens.unseal(share_tokens.seal(OLD_TOKEN)) == OLD_TOKEN
    assert backup_keys.unwrap(OLD_WRAPPED, b"id") == b"k" * 32
    assert backup_keys.wrap(b"k" * 32, b"id", nonce=bytes(12)) == OLD_WRAPPED
    assert chain.chain_key().hex() == PINNED[AUDIT_CHAIN]


def test_the_audit_chain_key_setting_stands_in_for_the_master_key():
    with override_settings(MASTER_KEY=MASTER, AUDIT_CHAIN_KEY="old-master-before-rotation"):
        assert chain.chain_key().hex() == OLD_CHAIN_OF_ROTATED
    with override_settings(MASTER_KEY="old-master-before-rotation", AUDIT_CHAIN_KEY=""):
        assert chain.chain_key().hex() == OLD_CHAIN_OF_ROTATED


def test_a_changed_master_key_setting_is_not_served_from_the_cache():
    with override_settings(MASTER_KEY=MASTER):
        first = derive_key(SHARE_LINK_TOKENS)
    with override_settings(MASTER_KEY=MASTER + "-rotated"):
        assert derive_key(SHARE_LINK_TOKENS) != first
