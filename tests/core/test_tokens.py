"""portal.core.tokens, the one token scheme, and the three formats built on
it: tokens issued by the old per-app code (commit ac73238) still parse and
verify, new ones keep the same shape, and secrets are compared in constant
time against their SHA-256 only."""

import hmac
import re

import pytest

from portal.accounts import tokens as personal
from portal.backups import tokens as device
from portal.core import tokens
from portal.core.tokens import TokenFormat
from portal.shares import tokens as share

# (plaintext, selector, stored verifier) as the old generate() functions made them.
OLD_PERSONAL = ("coffer_eb8fd3479dc97245_7ttEzk72KzBJKXD7yvNB5WJtODYkBGzKTxlD_EOiI1s", "eb8fd3479dc97245",
                "9e82eff1b0773862c8fcb08cf37a198223d6a6e539e5faa023e466dbbc8dab44")
OLD_DEVICE = ("cofferdev_47938e4f64186c8e_FYkwmDw6fermQarhXZMGODRdRZlxYFaO7QGO_N3xx0I", "47938e4f64186c8e",
              "e895178dda6f9d446d1d59e44be4e91c1c66e8293178b181c11edf80895bd56f")
OLD_ENROLLMENT = ("cofferenr_9b333828e867b46c_9pMFiyohPi4ff_wQ3650Ej5UTdMef-L7cnp8wp2r8mo", "9b333828e867b46c",
                  "d2e077251ca60ba1ae364debf53277740ef4b57c3e0d3eb6cf7621e1b49269a8")
OLD_SHARE = ("9870625a42eab89dHSvxXn_UDNl2d61GAD9T5bQsb6E_4ZjD", "9870625a42eab89d",
             "6cabd88e2563d3c79d55b95e7eff2876ac64bd806fe5dcf537c4dc39ab08d956")

FORMATS = {
    "personal": (personal.parse, personal.verify, OLD_PERSONAL),
    "device": (lambda raw: device.parse(device.DEVICE, raw), device.verify, OLD_DEVICE),
    "enrollment": (lambda raw: device.parse(device.ENROLLMENT, raw), device.verify, OLD_ENROLLMENT),
    "share": (share.parse, share.matches, OLD_SHARE),
}


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_tokens_issued_before_still_parse_and_verify(kind):
    parse, verify, (plaintext, selector, verifier) = FORMATS[kind]
    found, secret = parse(plaintext)
    assert found == selector and verify(secret, verifier)
    assert not verify(secret[:-1] + ("A" if secret[-1] != "A" else "B"), verifier)


# The old modules' patterns, written out: new tokens must still match them.
OLD_PATTERNS = {
    "personal": r"coffer_([0-9a-f]{16})_([A-Za-z0-9_-]{43})",
    "device": r"cofferdev_([0-9a-f]{16})_([A-Za-z0-9_-]{43})",
    "enrollment": r"cofferenr_([0-9a-f]{16})_([A-Za-z0-9_-]{43})",
    "share": r"([0-9a-f]{16})([A-Za-z0-9_-]{32})",
}
GENERATE = {"personal": personal.generate, "device": lambda: device.generate(device.DEVICE),
            "enrollment": lambda: device.generate(device.ENROLLMENT), "share": share.generate}


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_new_tokens_have_the_old_shape_and_verify(kind):
    plaintext, selector, verifier = GENERATE[kind]()
    match = re.fullmatch(OLD_PATTERNS[kind], plaintext)
    assert match and match.group(1) == selector
    assert FORMATS[kind][0](plaintext) == (selector, match.group(2))
    assert FORMATS[kind][1](match.group(2), verifier)


def test_each_format_refuses_the_others_tokens_and_garbage():
    every = [OLD_PERSONAL[0], OLD_DEVICE[0], OLD_ENROLLMENT[0], OLD_SHARE[0]]
    for kind, (parse, _, (own, _, _)) in FORMATS.items():
        assert [token for token in every if parse(token)] == [own], kind
        for raw in (None, 42, b"bytes", "", own + "x", own[:-1], own.upper()):
            assert parse(raw) is None, (kind, raw)


def test_whitespace_around_a_header_token_is_tolerated_but_not_in_a_link():
    assert personal.parse(f"  {OLD_PERSONAL[0]}\n") is not None
    assert device.parse(device.DEVICE, f" {OLD_DEVICE[0]} ") is not None
    assert share.parse(f" {OLD_SHARE[0]}") is None


def test_secrets_carry_at_least_128_random_bits():
    with pytest.raises(ValueError):
        TokenFormat(secret_bytes=15)
    assert {personal.FORMAT.secret_bytes, share.FORMAT.secret_bytes} == {32, 24}
    secrets_made = {share.parse(share.generate()[0])[1] for _ in range(50)}
    assert len(secrets_made) == 50


def test_only_the_hash_is_stored_and_compared_in_constant_time(monkeypatch):
    plaintext, selector, verifier = share.generate()
    secret = share.parse(plaintext)[1]
    assert secret not in verifier and verifier == tokens.hash_secret(secret)
    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(tokens.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    assert share.matches(secret, verifier) and compared == [(verifier, verifier)]


def test_the_link_url_is_the_public_address_with_the_token(settings):
    settings.PUBLIC_URL = "https://files.example.com/"
    assert share.link_url(OLD_SHARE[0]) == f"https://files.example.com/s/{OLD_SHARE[0]}"
