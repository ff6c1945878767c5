"""A live portal (the WSGI app on cheroot, as tests/dav runs it), a real loopback HTTP server publishing
an office server's discovery XML with proof keys, and a small fake office client that signs its
requests with the matching private keys, as Collabora Online and OnlyOffice do."""

from __future__ import annotations

import base64
import io
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from portal.collab.wopi.discovery import discovery_forget
from portal.collab.wopi.proof import proof_message, ticks_now
from portal.collab.wopi.tokens import wopi_token_issue
from portal.files.selectors import locate_node
from portal.files.services.direct import file_put
from portal.spaces.services import member_add
from tests.dav.conftest import alice_dav, dav, dav_user_of, live_dav, team

DAV_FIXTURES = (alice_dav, dav, dav_user_of, live_dav, team)  # the WebDAV suite's live server and space, reused

EDITOR_SRC = "https://office.invalid/browser/abc123/cool.html?"


def _b64_int(number: int) -> str:
    return base64.b64encode(number.to_bytes((number.bit_length() + 7) // 8, "big")).decode()


@pytest.fixture(scope="session")
def proof_keys():
    """The office server's current and previous signing keys."""
    return {name: rsa.generate_private_key(public_exponent=65537, key_size=2048) for name in ("current", "old")}


def discovery_xml(keys: dict | None, *, exts=("docx", "xlsx", "odt")) -> bytes:
    actions = "".join(f'<action name="edit" ext="{ext}" default="true" urlsrc="{EDITOR_SRC}"/>'
                      f'<action name="view" ext="{ext}" urlsrc="{EDITOR_SRC}"/>' for ext in exts)
    actions += '<action name="view" ext="pdf" urlsrc="https://office.invalid/browser/abc123/cool.html?"/>'
    proof = ""
    if keys:
        cur, old = keys["current"].public_key().public_numbers(), keys["old"].public_key().public_numbers()
        proof = (f'<proof-key value="unused" modulus="{_b64_int(cur.n)}" exponent="{_b64_int(cur.e)}" '
                 f'oldvalue="unused" oldmodulus="{_b64_int(old.n)}" oldexponent="{_b64_int(old.e)}"/>')
    return (f'<?xml version="1.0" encoding="utf-8"?><wopi-discovery><net-zone name="external-http">'
            f'<app name="writer">{actions}</app></net-zone>{proof}</wopi-discovery>').encode()


@dataclass
class DiscoveryServer:
    url: str
    body: bytes
    status: int = 200
    hits: list = field(default_factory=list)


@pytest.fixture
def discovery_server(proof_keys):
    """A real HTTP server on a free loopback port serving ``.body`` at /hosting/discovery; stopped after."""
    state = DiscoveryServer(url="", body=discovery_xml(proof_keys))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            state.hits.append(self.path)
            self.send_response(state.status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # shutdown() waits for the serving loop to look up: every 0.05 s, not the default 0.5 s, each test
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hosting/discovery"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def office(settings, live_dav, discovery_server):
    """The portal configured with the loopback office server; the office server reaches it at live_dav."""
    from django.core.cache import cache

    from portal.collab.wopi.context import REFRESH_GUARD

    settings.WOPI_DISCOVERY_URL = discovery_server.url
    settings.WOPI_HOST_URL = live_dav.url
    settings.PUBLIC_URL = live_dav.url
    discovery_forget()
    cache.delete(REFRESH_GUARD)
    yield discovery_server
    discovery_forget()
    cache.delete(REFRESH_GUARD)


def put(user, space, path: str, data: bytes):
    """A file (or its next version) stored through the files service."""
    return file_put(actor=user, space_id=space.pk, path=path, fileobj=io.BytesIO(data), size=len(data))


def issue(user, node) -> str:
    return wopi_token_issue(actor=user, located=locate_node(user, node.pk)).token


def join(space, owner, user, role: str) -> None:
    member_add(actor=owner, space_id=space.pk, username=user.get_username(), role=role)


class FakeOffice:
    """The WOPI client side: what an office server sends, each request signed with the proof keys
    (``proof_with``: which keys sign X-WOPI-Proof / X-WOPI-ProofOld; ``ticks``: the timestamp)."""

    def __init__(self, base: str, node_id, token: str, keys: dict | None):
        self.base, self.node_id, self.token, self.keys = base, node_id, token, keys
        self.session = requests.Session()
        self.proof_with = ("current", "old")
        self.ticks = None

    def url(self, contents: bool = False) -> str:
        return (f"{self.base}/wopi/files/{self.node_id}{'/contents' if contents else ''}"
                f"?access_token={quote(self.token, safe='')}")

    def _sign(self, url: str) -> dict:
        if not self.keys:
            return {}
        ticks = self.ticks if self.ticks is not None else ticks_now()
        message = proof_message(self.token, url, ticks)
        headers = {"X-WOPI-TimeStamp": str(ticks)}
        for header, name in zip(("X-WOPI-Proof", "X-WOPI-ProofOld"), self.proof_with):
            if name:
                signature = self.keys[name].sign(message, padding.PKCS1v15(), hashes.SHA256())
                headers[header] = base64.b64encode(signature).decode()
        return headers

    def call(self, method: str, override: str | None = None, *, contents: bool = False, headers=None, data=None):
        url = self.url(contents)
        sent = {**self._sign(url), **(headers or {})}
        if override:
            sent["X-WOPI-Override"] = override
        return self.session.request(method, url, headers=sent, data=data, timeout=30)

    def check_file_info(self):
        return self.call("GET")

    def get_file(self, **headers):
        return self.call("GET", contents=True, headers=headers)

    def lock(self, lock: str, old: str | None = None):
        return self.call("POST", "LOCK", headers={"X-WOPI-Lock": lock, **({"X-WOPI-OldLock": old} if old else {})})

    def get_lock(self):
        return self.call("POST", "GET_LOCK")

    def refresh_lock(self, lock: str):
        return self.call("POST", "REFRESH_LOCK", headers={"X-WOPI-Lock": lock})

    def unlock(self, lock: str):
        return self.call("POST", "UNLOCK", headers={"X-WOPI-Lock": lock})

    def put_file(self, data: bytes, lock: str | None, **headers):
        return self.call("POST", "PUT", contents=True, data=data,
                         headers={**({"X-WOPI-Lock": lock} if lock is not None else {}), **headers})

    def put_relative(self, data: bytes, **headers):
        return self.call("POST", "PUT_RELATIVE", data=data, headers={"X-WOPI-Size": str(len(data)), **headers})

    def rename(self, name: str, lock: str = ""):
        return self.call("POST", "RENAME_FILE", headers={"X-WOPI-RequestedName": utf7(name), "X-WOPI-Lock": lock})


def utf7(text: str) -> str:
    return text.encode("utf-7").decode("ascii")


@pytest.fixture
def client_for(live_dav, proof_keys, office):
    """``client_for(user, node)``: a FakeOffice with a fresh token of ``user`` for ``node``."""
    def make(user, node, token: str | None = None) -> FakeOffice:
        return FakeOffice(live_dav.url, node.pk, token or issue(user, node), proof_keys)
    return make
