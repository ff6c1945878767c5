"""The agent's side of create-only pack URLs: a retried PUT whose first
attempt was stored (its answer lost) gets 412, which the agent takes as
"stored"; a pack whose URL is used for other bytes keeps the first ones."""

from __future__ import annotations

import os

import pytest

from sync_agent.client import Client
from sync_agent.crypto import Keys, chunk_id, seal
from tests.agent.conftest import enrollment_token


@pytest.mark.parametrize("backend", ["portal", "portal_s3"])
def test_a_second_put_of_a_pack_counts_as_stored_and_changes_nothing(request, owner, backend):
    served = request.getfixturevalue(backend)
    enrolled = Client(served.url).enroll(enrollment_token(owner), "laptop")
    client = Client(served.url, enrolled["device_token"])
    keys = Keys.from_b64(enrolled["keys"]["id_key"], enrolled["keys"]["data_key"])
    data = os.urandom(4000)
    cid = chunk_id(keys, data)
    blob = seal(keys, cid, data)
    created = client.pack_create(len(blob))
    client.put_object(created["url"], blob, created["headers"])
    client.put_object(created["url"], blob, created["headers"])  # the retry: 412, not an error
    client.put_object(created["url"], os.urandom(len(blob)), created["headers"])  # other bytes: refused too
    entry = {"id": cid, "offset": 0, "length": len(blob), "raw_length": len(data), "kind": "data"}
    assert client.pack_index(created["pack_id"], [entry]) == {"registered": 1, "duplicates": 0}
    located, missing = client.locate([cid])
    assert not missing
    assert client.get_range(located[cid]["url"], 0, len(blob)) == blob
