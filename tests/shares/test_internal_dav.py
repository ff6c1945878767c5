"""WebDAV lists a user's spaces, not what colleagues shared with them: a
recipient sees no shared item there, and cannot reach one by its path."""

from __future__ import annotations

from portal.files.selectors import space_root
from portal.shares import services
from tests.dav.conftest import dav_user_of, live_dav, team  # noqa: F401 - shared fixtures
from tests.files.conftest import make_file  # noqa: F401


def test_webdav_shows_no_shared_item_and_reaches_none(live_dav, dav_user_of, alice, bob, team, make_file):  # noqa: F811
    from portal.files.services.tree import folder_create

    folder = folder_create(actor=alice, space_id=team.pk, path="/Project")[0].node
    make_file(folder, "a.txt", size=0)
    services.internal_share_create(actor=alice, node_id=folder.pk, user=bob, role="editor")
    session = dav_user_of(bob).session()
    listing = session.request("PROPFIND", live_dav.dav("/"), headers={"Depth": "1"})
    assert listing.status_code == 207 and team.slug not in listing.text
    for path in (f"/{team.slug}/Project/a.txt", f"/{team.slug}/Project/", f"/{team.slug}/"):
        assert session.get(live_dav.dav(path)).status_code == 404, path
    assert session.put(live_dav.dav(f"/{team.slug}/Project/new.txt"), data=b"x").status_code in (403, 404, 409)
    assert space_root(team).children.filter(name="new.txt").count() == 0
    session.close()
