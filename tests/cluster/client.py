"""What a REST client does through the cluster's balancer: spaces, the upload flow, downloads."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime

import psycopg
import requests

from tests.cluster.conftest import Cluster


def new_space(api: requests.Session, cluster: Cluster, name: str) -> int:
    space = api.post(f"{cluster.lb}/api/v1/spaces/", json={"name": name}, timeout=30)
    assert space.status_code == 201, space.text
    return space.json()["id"]


def upload(api: requests.Session, cluster: Cluster, space_id: int, path: str, data: bytes) -> int:
    """Start at the portal, PUT the parts to the S3 gateway's presigned URLs, complete."""
    started = api.post(f"{cluster.lb}/api/v1/uploads", json={"space": space_id, "path": path, "size": len(data)},
                       timeout=30)
    assert started.status_code == 201, started.text
    session = started.json()
    gateway = f"http://{cluster.address('s3-gw')}:8333/"
    for part in session["parts"]:
        assert part["url"].startswith(gateway), part["url"]  # straight to the store, not through the portal
        offset = (part["number"] - 1) * session["part_size"]
        answer = requests.put(part["url"], data=data[offset:offset + session["part_size"]], timeout=30)
        assert answer.status_code == 200, answer.text
    done = api.post(f"{cluster.lb}/api/v1/uploads/{session['id']}/complete", timeout=30)
    assert done.status_code == 201, done.text
    return done.json()["id"]


def download(api: requests.Session, cluster: Cluster, node_id: int) -> bytes:
    answer = api.get(f"{cluster.lb}/api/v1/files/{node_id}/content", timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    return answer.content


# --- What a client saw during a fault (the fault tests print it for the closing note) ---

class Journal:
    """Time-stamped notes of what a client saw, from the moment it was made."""

    def __init__(self, title: str):
        self.title, self.began, self.lines = title, time.monotonic(), []

    def now(self) -> float:
        return time.monotonic() - self.began

    def note(self, what: str) -> None:
        self.lines.append(f"{self.now():7.2f} s  {what}")

    def print(self) -> None:
        print(f"\n== {self.title}\n" + "\n".join(self.lines), flush=True)


RETRIED_STATUSES = (502, 503, 504)


def call(session: requests.Session, method: str, url: str, journal: Journal, *, deadline: float = 60,
         **kwargs) -> requests.Response:
    """A request as a patient client sends it: a refused or broken connection, or a 502/503/504 from the
    balancer, is noted in the journal and sent again until ``deadline`` seconds have passed."""
    give_up = time.monotonic() + deadline
    while True:
        began = time.monotonic()
        try:
            answer = session.request(method, url, timeout=30, **kwargs)
        except requests.ConnectionError as exc:
            seen = f"connection error {type(exc).__name__}"
        else:
            if answer.status_code not in RETRIED_STATUSES:
                return answer
            seen = f"{answer.status_code} {answer.text[:80]!r}"
        journal.note(f"{method} {url.split('/api/v1', 1)[-1]}: {seen} after {time.monotonic() - began:.2f} s; retrying")
        assert time.monotonic() < give_up, f"{method} {url} still failing after {deadline} s: {seen}"
        time.sleep(0.2)  # a client's back-off before sending again


@dataclass(frozen=True)
class Routed:
    """One request as HAProxy's log on `lb` tells it: the portal that answered and its retries
    (``+N``: redispatched to another portal after N failed tries)."""

    at: float  # when the request began (epoch seconds)
    server: str
    status: int
    retries: str
    request: str


ROUTED = re.compile(r'\[([^]]+)\] http portal/(\S+) \S+ (-1|\d{3}) .* \d+/\d+/\d+/\d+/(\+?\d+) \d+/\d+ "([^"]*)"')


def lb_log_size(cluster: Cluster) -> int:
    return (cluster.state / "hosts" / "lb" / "haproxy.log").stat().st_size


def routed_since(cluster: Cluster, offset: int) -> list[Routed]:
    """The requests HAProxy logged after byte ``offset`` of its log, health checks left out."""
    with open(cluster.state / "hosts" / "lb" / "haproxy.log", "rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    found = (ROUTED.search(line) for line in text.splitlines())
    return [Routed(datetime.strptime(m[1], "%d/%b/%Y:%H:%M:%S.%f").timestamp(), m[2], int(m[3]), m[4], m[5])
            for m in found if m and "/healthz" not in m[5]]


def sql(cluster: Cluster, query: str, *params) -> list[tuple]:
    """Rows from the cluster's PostgreSQL, reached as the portal hosts reach it (their coffer.env): a check
    of what the clients cannot see, in milliseconds instead of a manage.py start."""
    settings = (cluster.state / "hosts" / "portal2" / "coffer.env").read_text()
    url = re.search(r"^PORTAL_DATABASE_URL=(.+)$", settings, re.MULTILINE)[1]
    with psycopg.connect(url, connect_timeout=10) as connection:
        return connection.execute(query, params).fetchall()
