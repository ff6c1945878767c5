"""Redis stops under two co-editing server processes: both keep serving their
editors (every update is stored first), and once Redis is back each catches
up on what the other stored meanwhile, so both documents agree again and the
fan-out works as before. The servers run on a private redis-server."""

from __future__ import annotations

import pytest
import requests

from tests.support.coedit import connected, room_url

pytestmark = [pytest.mark.postgres]
CATCH_UP = 45  # seconds: the servers try Redis again after 1, 2, 4... s


def _healthy(server) -> bool:
    return requests.get(f"http://127.0.0.1:{server.port}/coedit/health", timeout=10).status_code == 200


def test_editors_keep_typing_through_a_redis_outage_and_both_servers_agree_after(coedit_servers, notes,
                                                                                  private_redis, aio):
    url = private_redis.url()
    one, two = coedit_servers(PORTAL_REDIS_URL=url), coedit_servers(PORTAL_REDIS_URL=url)
    alice = aio(connected(room_url(one, notes.owner, notes.node)))
    bob = aio(connected(room_url(two, notes.editor, notes.node)))
    aio(alice.insert(0, "a"))
    aio(bob.wait_for(lambda: bob.content == "aHello\n"))

    private_redis.stop()
    aio(alice.insert(0, "b"))
    aio(bob.insert(len(bob.content), "z"))
    aio(alice.wait_for(lambda: alice.content.startswith("ba")))
    assert _healthy(one) and _healthy(two)

    private_redis.start()
    aio(bob.wait_for(lambda: bob.content.startswith("ba"), timeout=CATCH_UP))
    aio(alice.wait_for(lambda: alice.content.endswith("z"), timeout=CATCH_UP))
    assert alice.content == bob.content == "baHello\nz"
    aio(alice.insert(0, "c"))
    aio(bob.wait_for(lambda: bob.content == "cbaHello\nz"))
