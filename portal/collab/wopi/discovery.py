"""The configured office server's WOPI discovery: which actions it offers per
file extension, at which URLs, and the public keys it signs requests with.

Fetched over HTTP (``WOPI_DISCOVERY_URL``) with a timeout, parsed with
defusedxml (no entities, no external references), and kept in the Django
cache, shared by every portal process. A failed fetch is remembered for a
minute, so a file listing never waits on an unreachable office server more
than once a minute.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from dataclasses import dataclass, field
from urllib.parse import quote

import requests
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

CACHE_KEY = "wopi:discovery:v1:"
FAILURE_SECONDS = 60
MAX_BYTES = 4 * 1024 * 1024
# Placeholders of the discovery spec's urlsrc templates that Coffer fills; every other optional
# "<name=PLACEHOLDER&>" section is removed (as the spec says for placeholders a host does not know).
FILLED = ("UI_LLCC", "DC_LLCC", "WOPI_SOURCE")
_SECTION = re.compile(r"<([^<>=]*)=([A-Z_]+)&?>")
# A listing asks for every file it shows: the last answer is kept in this process for a few seconds
# (a copy of the shared cache's, never anything another process needs).
MEMO_SECONDS = 10
_memo: dict[str, tuple[float, Discovery | None]] = {}


@dataclass(frozen=True)
class ProofKey:
    modulus: int
    exponent: int


@dataclass
class Discovery:
    # extension (lower case, no dot) -> action name ("view", "edit", "editnew", ...) -> urlsrc
    actions: dict[str, dict[str, str]] = field(default_factory=dict)
    proof_key: ProofKey | None = None
    proof_key_old: ProofKey | None = None

    def action_url(self, ext: str, names=("edit", "view")) -> tuple[str, str] | None:
        """The first of ``names`` the server offers for ``ext``, as (name, urlsrc)."""
        offered = self.actions.get(ext.lower().lstrip("."), {})
        for name in names:
            if name in offered:
                return name, offered[name]
        return None


class DiscoveryError(Exception):
    pass


def _int_of(b64: str) -> int:
    return int.from_bytes(base64.b64decode(b64), "big")


def _proof_keys(root) -> tuple[ProofKey | None, ProofKey | None]:
    element = root.find("proof-key")
    if element is None:
        return None, None

    def key(modulus: str | None, exponent: str | None) -> ProofKey | None:
        if not modulus or not exponent:
            return None
        return ProofKey(modulus=_int_of(modulus), exponent=_int_of(exponent))

    return (key(element.get("modulus"), element.get("exponent")),
            key(element.get("oldmodulus"), element.get("oldexponent")))


def parse(xml: bytes) -> Discovery:
    """The discovery document's actions and proof keys. DiscoveryError when it is not one."""
    try:
        root = ElementTree.fromstring(xml, forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as exc:
        raise DiscoveryError(f"not a discovery document: {exc}") from exc
    if root.tag != "wopi-discovery":
        raise DiscoveryError(f"not a discovery document (root element {root.tag!r})")
    found = Discovery()
    for action in root.iterfind("./net-zone/app/action"):
        ext, name, urlsrc = (action.get("ext") or "").lower(), action.get("name") or "", action.get("urlsrc") or ""
        if ext and name and urlsrc.startswith(("https://", "http://")):
            found.actions.setdefault(ext, {}).setdefault(name, urlsrc)
    try:
        found.proof_key, found.proof_key_old = _proof_keys(root)
    except (ValueError, TypeError) as exc:
        raise DiscoveryError(f"unreadable proof key: {exc}") from exc
    return found


def _fetch(url: str) -> Discovery:
    try:
        with requests.get(url, timeout=settings.WOPI_DISCOVERY_TIMEOUT, stream=True,
                          allow_redirects=False) as response:
            if response.status_code != 200:
                raise DiscoveryError(f"{url} answered {response.status_code}")
            body = response.raw.read(MAX_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise DiscoveryError(f"{url} could not be fetched: {exc}") from exc
    if len(body) > MAX_BYTES:
        raise DiscoveryError(f"{url} is larger than {MAX_BYTES} bytes")
    return parse(body)


def discovery_get(*, refresh: bool = False) -> Discovery | None:
    """The office server's discovery (cached), or None when none is configured or it cannot be read.
    ``refresh``: fetch again now (the proof keys may have been rotated)."""
    url = settings.WOPI_DISCOVERY_URL
    if not url:
        return None
    key = CACHE_KEY + url
    memo = None if refresh else _memo.get(key)
    if memo is not None and memo[0] > time.monotonic():
        return memo[1]
    cached = None if refresh else cache.get(key)
    if cached is not None:
        found = cached or None  # False: a recent failure
    else:
        try:
            found = _fetch(url)
        except DiscoveryError:
            logger.warning("WOPI discovery failed", exc_info=True)
            cache.set(key, False, FAILURE_SECONDS)
            found = None
        else:
            cache.set(key, found, settings.WOPI_DISCOVERY_CACHE_SECONDS)
    _memo[key] = (time.monotonic() + MEMO_SECONDS, found)
    return found


def discovery_forget() -> None:
    """Drop the cached discovery (after a configuration change; tests)."""
    _memo.clear()
    if settings.WOPI_DISCOVERY_URL:
        cache.delete(CACHE_KEY + settings.WOPI_DISCOVERY_URL)


def action_src(urlsrc: str, *, wopi_src: str, language: str = "") -> str:
    """The editor URL for one file: urlsrc with its placeholder sections filled or removed
    (per the discovery spec) and WOPISrc added when the template has no WOPI_SOURCE placeholder."""
    values = {"UI_LLCC": language, "DC_LLCC": language, "WOPI_SOURCE": quote(wopi_src, safe="")}
    has_source = "WOPI_SOURCE" in urlsrc

    def fill(match: re.Match) -> str:
        value = values.get(match.group(2)) if match.group(2) in FILLED else None
        return f"{match.group(1)}={value}&" if value else ""

    url = _SECTION.sub(fill, urlsrc)
    if not has_source:
        separator = "" if url.endswith(("?", "&")) else ("&" if "?" in url else "?")
        url = f"{url}{separator}WOPISrc={values['WOPI_SOURCE']}"
    url = re.sub("&{2,}", "&", url).replace("?&", "?")
    while url.endswith(("&", "?")):
        url = url[:-1]
    return url
