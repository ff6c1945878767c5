"""What the production guide test reads from the repository: docs/deploy.md's marked
blocks, the shipped settings file, unit files and proxy configuration, each put
"as installed" into a test folder instead of /opt, /etc and /var/lib.

The only liberties taken with the guide, all here: the paths below are moved into
the test's folder, commands meant for the `coffer` account run as the test's own
(`runuser -u coffer -- ` dropped, `chgrp coffer` lines skipped), and the host
names and ports are the test's.
"""

from __future__ import annotations

import re
import shlex
import socket
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "deploy.md"
SYSTEMD = ROOT / "deploy" / "systemd"
HAPROXY_CFG = ROOT / "deploy" / "proxy" / "haproxy.cfg"
PORTAL_NAME, S3_NAME = "files.example.com", "s3.files.example.com"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def guide_blocks(marker: str) -> list[str]:
    """The fenced blocks that follow ``<!-- deploy-test: marker -->`` in docs/deploy.md, in order."""
    pattern = rf"<!-- deploy-test: {re.escape(marker)} -->\n```\w*\n(.*?)```"
    return re.findall(pattern, GUIDE.read_text(), flags=re.S)


@dataclass(frozen=True)
class Layout:
    """Where the test installs what the guide puts in /opt/coffer, /etc/coffer and /var/lib/coffer."""
    home: Path

    @property
    def etc(self) -> Path:
        return self.home / "etc" / "coffer"

    @property
    def var(self) -> Path:
        return self.home / "var" / "lib" / "coffer"

    @property
    def env_file(self) -> Path:
        return self.etc / "coffer.env"

    def make(self) -> None:
        self.etc.mkdir(parents=True)
        self.var.mkdir(parents=True)

    def localize(self, text: str) -> str:
        text = text.replace("/opt/coffer", str(ROOT)).replace("/etc/coffer", str(self.etc))
        text = text.replace("/var/lib/coffer", str(self.var)).replace("runuser -u coffer -- ", "")
        return "\n".join(line for line in text.splitlines() if not line.startswith("chgrp coffer "))


def env_file_values(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def edit_env_file(path: Path, changes: dict[str, str]) -> None:
    """What the administrator does in an editor: change the values of the lines that are there,
    and add at the end the ones the guide says to add (AWS_CA_BUNDLE)."""
    lines, seen = [], set()
    for line in path.read_text().splitlines():
        key = line.partition("=")[0].strip()
        if key in changes and not line.lstrip().startswith("#"):
            line = f"{key}={changes[key]}"
            seen.add(key)
        lines.append(line)
    lines += [f"{key}={value}" for key, value in changes.items() if key not in seen]
    path.write_text("\n".join(lines) + "\n")


@dataclass(frozen=True)
class Unit:
    name: str
    working_directory: str
    environment_file: str
    exec_start: str

    def command(self, env: dict[str, str]) -> list[str]:
        """ExecStart as systemd runs it: ${VAR} and $VAR replaced from the environment, then split."""
        line = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], self.exec_start)
        line = re.sub(r"\$(\w+)", lambda m: env[m.group(1)], line)
        return shlex.split(line)


def read_unit(name: str) -> Unit:
    fields = {}
    section = None
    for line in (SYSTEMD / name).read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            fields[key] = value
    return Unit(name, fields["WorkingDirectory"], fields["EnvironmentFile"], fields["ExecStart"])


def haproxy_config(*, port: int, pem: Path, web: str, coedit: str, s3_port: int, portal_host: str,
                   s3_host: str) -> str:
    """deploy/proxy/haproxy.cfg with the test's address, certificate, names and back ends."""
    text = HAPROXY_CFG.read_text()
    for old, new in [("bind :443 ", f"bind 127.0.0.1:{port} "), ("/etc/haproxy/certs/coffer.pem", str(pem)),
                     ("127.0.0.1:8000", web), ("127.0.0.1:8001", coedit), ("127.0.0.1:8333", f"127.0.0.1:{s3_port}"),
                     (S3_NAME, s3_host), (PORTAL_NAME, portal_host)]:
        assert old in text, f"deploy/proxy/haproxy.cfg no longer has {old!r}: update this test with it"
        text = text.replace(old, new)
    # Plain http only redirects; the test has no port 80 to give it. Logs go to stderr, not syslog.
    text = "\n".join(line for line in text.splitlines() if line.strip() != "bind :80")
    return text.replace("log /dev/log local0", "log stderr format raw local0") + "\n"
