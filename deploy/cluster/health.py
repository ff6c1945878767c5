"""Is a host of deploy/cluster healthy? Asked from this machine over the bridge, as a monitor would."""

from __future__ import annotations

import http.client
import socket

TIMEOUT = 2


def http_status(address: str, port: int, path: str, host_header: str | None = None) -> int:
    connection = http.client.HTTPConnection(address, port, timeout=TIMEOUT)
    try:
        connection.request("GET", path, headers={"Host": host_header} if host_header else {})
        return connection.getresponse().status
    finally:
        connection.close()


def expect_http(address: str, port: int, path: str, wanted: set[int], host_header: str | None = None) -> str | None:
    try:
        code = http_status(address, port, path, host_header)
    except OSError as exc:
        return f"{path}: {exc}"
    return None if code in wanted else f"{path} answered {code}"


def expect_tcp(address: str, port: int) -> str | None:
    try:
        socket.create_connection((address, port), timeout=TIMEOUT).close()
    except OSError as exc:
        return f"port {port}: {exc}"
    return None


def expect_redis(address: str, port: int, password: str) -> str | None:
    try:
        with socket.create_connection((address, port), timeout=TIMEOUT) as conn:
            conn.sendall(f"AUTH {password}\r\nPING\r\n".encode())
            answer = b""
            while answer.count(b"\r\n") < 2:
                chunk = conn.recv(256)
                if not chunk:
                    break
                answer += chunk
    except OSError as exc:
        return f"redis: {exc}"
    return None if answer == b"+OK\r\n+PONG\r\n" else f"redis answered {answer!r}"


def check_host(layout, host: str) -> str | None:
    """None when ``host`` answers as it should, else what is wrong. Workers: their processes (see status)."""
    address, ports, lb = layout.hosts[host], layout.ports, layout.hosts["lb"]
    if host == "lb":
        return expect_http(address, ports["lb"], "/healthz", {200}, lb)
    if host.startswith("portal"):
        return expect_http(address, ports["portal"], "/healthz", {200}, lb)
    if host == "s3-master":
        return expect_http(address, ports["master"], "/cluster/status", {200})
    if host.startswith("vol"):
        return expect_http(address, ports["volume"], "/status", {200})
    if host == "s3-gw":
        # Unsigned, the S3 gateway refuses: an S3 answer all the same.
        return expect_http(address, ports["filer"], "/", {200}) or expect_http(address, ports["s3"], "/", {403})
    if host == "db":
        return expect_tcp(address, ports["db"])
    if host == "redis":
        return expect_redis(address, ports["redis"], layout.secrets()["redis_password"])
    return None
