"""The only HTTP code: the portal's device API and the object store's
presigned URLs. Retries with backoff on connection errors, 5xx and 429;
maps the portal's error shape onto the agent's errors."""

from __future__ import annotations

import logging
import platform
import random
import socket
import threading
import time

import requests
import urllib3

from .errors import DeviceRevoked, MissingChunks, PortalRefused, PortalUnreachable
from .redact import redact

logger = logging.getLogger(__name__)

API = "/api/v1"
TIMEOUT = (10, 120)
RETRY_STATUS = {429, 500, 502, 503, 504}
MAX_IDS = 10_000


class RateLimit:
    """A token bucket shared by every upload thread (bytes per second; 0 = none)."""

    def __init__(self, rate: int):
        self.rate = rate
        self.lock = threading.Lock()
        self.allowance = float(rate)
        self.stamp = time.monotonic()

    def take(self, n: int) -> None:
        if not self.rate:
            return
        with self.lock:
            now = time.monotonic()
            self.allowance = min(self.rate, self.allowance + (now - self.stamp) * self.rate)
            self.stamp = now
            self.allowance -= n
            wait = -self.allowance / self.rate if self.allowance < 0 else 0.0
        if wait:
            time.sleep(wait)


class _Body:
    """A request body that reads ``data`` in small pieces through the rate limit
    (it has a length, so requests sends Content-Length, as S3 requires)."""

    def __init__(self, data: bytes, limit: RateLimit, piece: int = 64 * 1024):
        self.view, self.limit, self.piece, self.pos = memoryview(data), limit, piece, 0

    def __len__(self) -> int:
        return len(self.view)

    def read(self, n: int = -1) -> bytes:
        n = self.piece if n is None or n < 0 else min(n, self.piece)
        out = self.view[self.pos:self.pos + n]
        self.pos += len(out)
        self.limit.take(len(out))
        return bytes(out)


class Client:
    def __init__(self, server: str, token: str = "", *, retries: int = 6, limit_upload_kib: int = 0):
        self.server = server.rstrip("/")
        self.retries = max(1, retries)
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = "coffer-agent/1"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.limit = RateLimit(limit_upload_kib * 1024)

    # --- plumbing -------------------------------------------------------------------
    def _send(self, method: str, url: str, what: str, **kwargs) -> requests.Response:
        """One request with retries; the response of any non-retryable status."""
        body = kwargs.pop("body", None)
        delay = 0.5
        for attempt in range(1, self.retries + 1):
            if body is not None:  # unlimited: one sendall of the whole body, not 8 KiB reads of a wrapper
                kwargs["data"] = _Body(body, self.limit) if self.limit.rate else body
            try:
                answer = self.session.request(method, url, timeout=TIMEOUT, **kwargs)
                if kwargs.get("stream"):  # the body in one read (requests' .content goes 10 KiB at a time)
                    answer._content = answer.raw.read(decode_content=True)
                    answer.close()
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                problem = redact(f"{type(exc).__name__}: {exc}")  # requests names the URL, signature and all
            else:
                if answer.status_code not in RETRY_STATUS:
                    return answer
                problem = f"HTTP {answer.status_code}"
            if attempt == self.retries:
                raise PortalUnreachable(problem, what=what)
            logger.warning("%s: %s; retrying in %.1f s (%d/%d)", what, problem, delay, attempt, self.retries)
            time.sleep(delay * (0.75 + random.random() / 2))
            delay = min(delay * 2, 30)
        raise AssertionError("unreachable")

    def _api(self, method: str, path: str, *, json=None, expect=(200, 201)) -> dict:
        """The JSON object of an expected answer. An answer cut short (the connection dropped
        while the body came: empty or broken JSON) is retried like a dropped connection."""
        for attempt in range(1, self.retries + 1):
            answer = self._send(method, f"{self.server}{API}{path}", "the portal", json=json)
            if answer.status_code not in expect:
                raise _refusal(answer)
            try:
                body = answer.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                return body
            if attempt == self.retries:
                raise PortalUnreachable(f"an incomplete answer to {method} {path}")
            logger.warning("the portal: an incomplete answer to %s %s; retrying (%d/%d)", method, path, attempt,
                           self.retries)
            time.sleep(0.5 * (0.75 + random.random() / 2))
        raise AssertionError("unreachable")

    # --- device API ------------------------------------------------------------------
    def enroll(self, token: str, name: str) -> dict:
        body = {"token": token, "hostname": socket.gethostname(), "platform": platform.platform()}
        if name:
            body["name"] = name
        return self._api("POST", "/backup/enroll", json=body, expect=(201,))

    def device(self) -> dict:
        return self._api("GET", "/backup/device")

    def rekey(self) -> dict:
        """This device's user's current key set: ``{"key_set", "keys", "replaces"}``."""
        return self._api("POST", "/backup/device/keys")

    def known(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), MAX_IDS):
            found.update(self._api("POST", "/backup/chunks/known", json={"ids": ids[start:start + MAX_IDS]})["known"])
        return found

    def pack_create(self, size: int) -> dict:
        return self._api("POST", "/backup/packs", json={"size": size}, expect=(201,))

    def pack_index(self, pack_id: str, chunks: list[dict]) -> dict:
        return self._api("POST", f"/backup/packs/{pack_id}/index", json={"chunks": chunks}, expect=(200, 201))

    def locate(self, ids: list[str]) -> tuple[dict, list[str]]:
        located, missing = {}, []
        for start in range(0, len(ids), MAX_IDS):
            answer = self._api("POST", "/backup/chunks/locate", json={"ids": ids[start:start + MAX_IDS]})
            located.update(answer["chunks"])
            missing.extend(answer.get("missing", []))
        return located, missing

    def snapshot_create(self, body: dict) -> dict:
        return self._api("POST", "/backup/snapshots", json=body, expect=(201,))

    def snapshots(self) -> list[dict]:
        """Every snapshot of this device, newest first (following the pages)."""
        out, url = [], f"{self.server}{API}/backup/snapshots?page_size=1000"
        while url:
            answer = self._send("GET", url, "the portal")
            if answer.status_code != 200:
                raise _refusal(answer)
            page = answer.json()
            if isinstance(page, list):
                return page
            out.extend(page["results"])
            url = page.get("next")
        return out

    def report(self, error: str) -> None:
        self._api("POST", "/backup/reports", json={"status": "failed", "error": error[:2000]}, expect=(200, 201))

    # --- object store ------------------------------------------------------------------
    def put_object(self, url: str, data: bytes, headers: dict | None = None) -> None:
        """PUT a pack to its create-only URL. 412: the object exists already, i.e. an earlier
        attempt of this PUT arrived though its answer was lost (indexing checks the bytes)."""
        answer = self._send("PUT", url, "the object store", body=data,
                            headers={"Content-Type": "application/octet-stream", **(headers or {})})
        if answer.status_code == 412:
            logger.info("the pack was stored by an earlier attempt of this upload")
            return
        if answer.status_code not in (200, 201, 204):
            raise PortalRefused(f"the object store answered {answer.status_code} to a pack upload",
                                code="put_failed", status=answer.status_code)

    def get_range(self, url: str, offset: int, length: int) -> bytes:
        headers = {"Range": f"bytes={offset}-{offset + length - 1}"}
        answer = self._send("GET", url, "the object store", headers=headers, stream=True)
        if answer.status_code == 206 or (answer.status_code == 200 and len(answer.content) == length):
            if len(answer.content) != length:
                raise PortalRefused(f"short read of a pack ({len(answer.content)} of {length} bytes)")
            return answer.content
        if answer.status_code == 200 and len(answer.content) >= offset + length:  # Range ignored
            return answer.content[offset:offset + length]
        raise PortalRefused(f"the object store answered {answer.status_code} to a pack read",
                            code="get_failed", status=answer.status_code)


def _refusal(answer: requests.Response) -> Exception:
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("code", ""))
    message = body.get("message") or answer.text[:300] or f"HTTP {answer.status_code}"
    if answer.status_code in (401, 403) and code == "device_revoked":
        return DeviceRevoked(message)
    if code == "missing_chunks":
        return MissingChunks(message, code=code, status=answer.status_code)
    return PortalRefused(f"{message} ({code or answer.status_code})", code=code, status=answer.status_code)
