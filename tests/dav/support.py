"""Request bodies and small helpers for the WebDAV tests."""

from __future__ import annotations

from lxml import etree

NS = {"D": "DAV:"}

LOCK_EXCLUSIVE = (b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
                  b'</D:lockscope><D:locktype><D:write/></D:locktype><D:owner>LibreOffice test</D:owner>'
                  b'</D:lockinfo>')
LOCK_SHARED = LOCK_EXCLUSIVE.replace(b"<D:exclusive/>", b"<D:shared/>")
PROPFIND_ALL = b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'


def proppatch(name: str, value: str, ns: str = "http://example.com/coffer/") -> bytes:
    return (f'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="{ns}"><D:set><D:prop>'
            f"<Z:{name}>{value}</Z:{name}></D:prop></D:set></D:propertyupdate>").encode()


def propfind(session, url: str, depth: str = "1", body: bytes = PROPFIND_ALL):
    return session.request("PROPFIND", url, data=body, headers={"Depth": depth, "Content-Type": "application/xml"})


def hrefs(response) -> list[str]:
    assert response.status_code == 207, response.text
    return [el.text for el in etree.fromstring(response.content).findall("D:response/D:href", NS)]


def lock(session, url: str, *, body: bytes = LOCK_EXCLUSIVE, depth: str = "0", timeout: int = 600):
    return session.request("LOCK", url, data=body, headers={"Depth": depth, "Timeout": f"Second-{timeout}",
                                                            "Content-Type": "application/xml"})


def token_of(response) -> str:
    assert response.status_code in (200, 201), response.text
    return response.headers["Lock-Token"].strip("<>")


def if_token(token: str) -> dict:
    return {"If": f"(<{token}>)"}


def node_in(space, path_names: list[str]):
    """The live node at a path in a space (the test's view; no access check)."""
    from portal.files.selectors import node_at

    return node_at(space, path_names)[0]
