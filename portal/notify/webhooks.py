"""Webhook mechanics: the secret (sealed at rest), the URL check against
server-side request forgery, the JSON body, its signature and one POST.

Receivers verify ``X-Coffer-Signature: sha256=<hex HMAC-SHA256(secret, body)>``
over the raw body; ``X-Coffer-Delivery`` is the same on every retry of one
delivery, so a receiver can drop repeats.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.utils.translation import gettext

from portal.audit.models import AuditEvent
from portal.core.errors import InvalidInput
from portal.core.keys import WEBHOOK_SECRETS, derive_key

USER_AGENT = "Coffer-Webhooks/1"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def seal(secret: str) -> str:
    nonce = os.urandom(12)
    aead = AESGCM(derive_key(WEBHOOK_SECRETS))
    return base64.urlsafe_b64encode(nonce + aead.encrypt(nonce, secret.encode(), None)).decode()


def unseal(sealed: str) -> str:
    raw = base64.urlsafe_b64decode(sealed.encode())
    return AESGCM(derive_key(WEBHOOK_SECRETS)).decrypt(raw[:12], raw[12:], None).decode()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# IPv6 ranges that carry an IPv4 address in their last 32 bits (NAT64, IPv4-compatible, IPv4-translated):
# a gateway or the kernel may deliver them to that IPv4 address, so that address is what is checked.
_IPV4_INSIDE = tuple(ipaddress.ip_network(net) for net in ("64:ff9b::/96", "::/96", "::ffff:0:0:0/96"))
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # local-use NAT64 (RFC 8215): never public


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped or ip.sixtofour:
        return ip.ipv4_mapped or ip.sixtofour
    if any(ip in net for net in _IPV4_INSIDE):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _refused_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return True
        inner = _embedded_ipv4(ip)
        if inner is not None and (not inner.is_global or inner.is_multicast):
            return True
    return not ip.is_global or ip.is_multicast


def check_url(url: str) -> str:
    """The URL if a webhook may post to it: http(s), a host, and (unless
    PORTAL_WEBHOOK_ALLOW_PRIVATE) only public addresses. Checked when the
    hook is saved and again before every delivery (DNS may change)."""
    if not isinstance(url, str) or len(url) > 500:
        raise InvalidInput(gettext("Give a web address of at most 500 characters."), detail={"field": "url"})
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(gettext("A webhook address starts with http:// or https:// and names a host."),
                           code="bad_url", detail={"field": "url"})
    if parts.username or parts.password:
        raise InvalidInput(gettext("A webhook address cannot carry a user name or password."),
                           code="bad_url", detail={"field": "url"})
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        raise InvalidInput(gettext("The host %(host)s could not be found.") % {"host": parts.hostname},
                           code="bad_url", detail={"field": "url"}) from None
    if any(_refused_address(info[4][0]) for info in infos):
        raise InvalidInput(gettext("Webhooks cannot post to private, loopback or link-local addresses."),
                           code="private_address", detail={"field": "url"})
    return url


def event_body(event: AuditEvent | None, action: str) -> dict:
    if event is None:  # a test ping
        return {"id": None, "action": action, "actor": "", "target": "", "space": None, "created_at": None,
                "details": {}}
    return {
        "id": event.pk,
        "action": event.action,
        "outcome": event.outcome,
        "actor": event.actor_label,
        "target": {"type": event.target_type, "id": event.target_id, "label": event.target_label},
        "space": event.space_id,
        "created_at": event.created_at.isoformat(),
        "details": event.details or {},
    }


class _PeerChecked:
    """A connection that checks the address it actually reached: a name whose
    DNS answer changed since check_url (rebinding) cannot land on a private one."""

    def _new_conn(self):
        sock = super()._new_conn()
        if not settings.WEBHOOK_ALLOW_PRIVATE and _refused_address(sock.getpeername()[0]):
            sock.close()
            raise NewConnectionError(
                self, gettext("Webhooks cannot post to private, loopback or link-local addresses."))
        return sock


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = type("PeerCheckedHTTPConnection", (_PeerChecked, HTTPConnection), {})


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = type("PeerCheckedHTTPSConnection", (_PeerChecked, HTTPSConnection), {})


class _PublicOnly(HTTPAdapter):
    """Direct connections check their peer (through a proxy, the proxy connects: check_url's check stands)."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


@dataclass(frozen=True)
class Attempt:
    ok: bool
    code: int | None
    error: str


def post(*, url: str, secret: str, delivery_id: int, action: str, body: dict) -> Attempt:
    """One POST, no redirects followed, short timeouts."""
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Coffer-Event": action,
               "X-Coffer-Delivery": str(delivery_id), "X-Coffer-Signature": signature(secret, raw)}
    try:
        check_url(url)
        timeout = settings.WEBHOOK_TIMEOUT_SECONDS
        with requests.Session() as session:
            session.mount("http://", _PublicOnly())
            session.mount("https://", _PublicOnly())
            response = session.post(url, data=raw, headers=headers, timeout=(timeout, timeout), allow_redirects=False)
    except InvalidInput as exc:
        return Attempt(ok=False, code=None, error=exc.message[:500])
    except requests.RequestException as exc:
        return Attempt(ok=False, code=None, error=f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= response.status_code < 300:
        return Attempt(ok=True, code=response.status_code, error="")
    return Attempt(ok=False, code=response.status_code, error=f"HTTP {response.status_code}")
