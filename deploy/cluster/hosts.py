"""What runs on each host of deploy/cluster, and the files it reads: Coffer's settings (the shipped
deploy/systemd/coffer.env, edited as an administrator would), its units' ExecStart lines, the
SeaweedFS, PostgreSQL, Redis and HAProxy command lines."""

from __future__ import annotations

import json
import re
import secrets
import shlex
import shutil
import string
import subprocess
from dataclasses import dataclass
from pathlib import Path

from netns import ClusterError, Network, Service, alive, run_once

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SYSTEMD = ROOT / "deploy" / "systemd"
# Debian's PostgreSQL binaries, the newest version installed.
PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), default=Path("/nonexistent"))
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SECRET_NAMES = ["secret_key", "master_key", "db_password", "redis_password", "s3_access_key", "s3_secret_key"]
COFFER_HOSTS = ("portal1", "portal2", "worker1", "worker2")
PREPARE_TIMEOUT = 150


@dataclass(frozen=True)
class Layout:
    state: Path
    net: Network
    config: dict

    @property
    def hosts(self) -> dict[str, str]:
        return self.config["hosts"]

    @property
    def ports(self) -> dict[str, int]:
        return self.config["ports"]

    def host_dir(self, host: str) -> Path:
        return self.state / "hosts" / host

    def secrets(self) -> dict[str, str]:
        return json.loads((self.state / "etc" / "secrets.json").read_text())

    def endpoint(self, host: str, port: str) -> str:
        return f"{self.hosts[host]}:{self.ports[port]}"


def prepare_files(layout: Layout) -> None:
    """Secrets, settings and data folders; kept from an earlier `up` with the same state folder."""
    etc = layout.state / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    # PostgreSQL runs as `postgres`, which must reach its data folder inside the state folder.
    for folder in (layout.state, layout.state / "hosts"):
        folder.mkdir(exist_ok=True)
        folder.chmod(0o711)
    if not (etc / "secrets.json").exists():
        (etc / "secrets.json").write_text(json.dumps({name: secrets.token_hex(32) for name in SECRET_NAMES}))
        (etc / "secrets.json").chmod(0o600)
    keys = layout.secrets()
    for name in ("secret_key", "master_key"):
        (etc / name).write_text(keys[name] + "\n")
        (etc / name).chmod(0o600)
    (etc / "s3.json").write_text(json.dumps({"identities": [{
        "name": "coffer", "credentials": [{"accessKey": keys["s3_access_key"], "secretKey": keys["s3_secret_key"]}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    for host in layout.hosts:
        layout.host_dir(host).mkdir(exist_ok=True)
    for host in COFFER_HOSTS:
        write_coffer_env(layout, host)
    template = string.Template((HERE / "haproxy.cfg").read_text())
    servers = "\n".join(f"    server {h} {layout.endpoint(h, 'portal')}" for h in layout.hosts if h.startswith("portal"))
    (layout.host_dir("lb") / "haproxy.cfg").write_text(template.substitute(
        LB_ADDRESS=layout.hosts["lb"], LB_PORT=layout.ports["lb"], PORTAL_SERVERS=servers))
    init_database(layout, keys["db_password"])


def coffer_settings(layout: Layout, host: str) -> dict[str, str]:
    """deploy/systemd/coffer.env's settings with this cluster's addresses, keys and folders."""
    keys, etc, var = layout.secrets(), layout.state / "etc", layout.host_dir(host) / "var"
    lb = layout.hosts["lb"]
    return {
        "PORTAL_VAR_DIR": str(var),
        # One copy of the static files for every portal host of this machine (each real host runs collectstatic).
        "PORTAL_STATIC_ROOT": str(layout.state / "static"),
        "PORTAL_SECRET_KEY_FILE": str(etc / "secret_key"),
        "PORTAL_MASTER_KEY_FILE": str(etc / "master_key"),
        "PORTAL_DATABASE_URL": f"postgresql://coffer:{keys['db_password']}@{layout.endpoint('db', 'db')}/coffer",
        "PORTAL_REDIS_URL": f"redis://:{keys['redis_password']}@{layout.endpoint('redis', 'redis')}/0",
        "PORTAL_S3_ENDPOINT": f"http://{layout.endpoint('s3-gw', 's3')}",
        "PORTAL_S3_ACCESS_KEY": keys["s3_access_key"],
        "PORTAL_S3_SECRET_KEY": keys["s3_secret_key"],
        "PORTAL_PUBLIC_URL": f"http://{lb}",
        "PORTAL_ALLOWED_HOSTS": lb,
        "PORTAL_HTTPS": "0",
        "PORTAL_BIND": layout.endpoint(host, "portal") if host.startswith("portal") else "127.0.0.1:8000",
        # No mail server here: mail goes to files under PORTAL_VAR_DIR/mail.
        "PORTAL_EMAIL_HOST": "",
        # Faults within a test's time: a killed worker's task runs on the other after 20 s (its tasks here
        # are short), a killed beat's schedule resumes on the other within 10 s (docs/deploy.md).
        "PORTAL_TASK_REDELIVERY_SECONDS": "20",
        "PORTAL_BEAT_LOCK_SECONDS": "10",
    }


def write_coffer_env(layout: Layout, host: str) -> None:
    """This host's /etc/coffer/coffer.env: the shipped file, its values changed in place."""
    changes = coffer_settings(layout, host)
    (layout.host_dir(host) / "var").mkdir(exist_ok=True)
    lines = []
    for line in (SYSTEMD / "coffer.env").read_text().splitlines():
        key = line.partition("=")[0].strip()
        if key in changes and not line.lstrip().startswith("#"):
            line = f"{key}={changes.pop(key)}"
        lines.append(line)
    lines += [f"{key}={value}" for key, value in changes.items()]
    path = layout.host_dir(host) / "coffer.env"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def env_file_values(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def unit_command(unit: str, env: dict[str, str]) -> list[str]:
    """A shipped unit's ExecStart as systemd runs it, from this checkout instead of /opt/coffer."""
    line = next(line for line in (SYSTEMD / unit).read_text().splitlines() if line.startswith("ExecStart="))
    line = line.removeprefix("ExecStart=").replace("/opt/coffer", str(ROOT))
    line = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], line)
    return shlex.split(line)


def coffer_services(layout: Layout, host: str) -> list[Service]:
    env_path = layout.host_dir(host) / "coffer.env"
    env = {"PATH": PATH, "LANG": "C.UTF-8", "HOME": str(layout.host_dir(host)), **env_file_values(env_path)}
    if host.startswith("portal"):
        argv = unit_command("coffer-web.service", env)
        argv[argv.index("--workers") + 1] = str(layout.config["portal"]["gunicorn_workers"])
        return [Service("gunicorn", argv, env, ROOT)]
    # Every namespace shares this machine's host name; real hosts need no --hostname.
    services = [Service("worker", unit_command("coffer-worker.service", env) + ["--hostname", f"{host}@%h"], env, ROOT)]
    # Beat on both: one holds the lock and runs the schedule, the other waits to take over (portal/beat.py).
    return services + [Service("beat", unit_command("coffer-beat.service", env), env, ROOT)]


def weed_services(layout: Layout, host: str) -> list[Service]:
    weed, address, data = str(ROOT / ".venv" / "bin" / "weed"), layout.hosts[host], layout.host_dir(host)
    env, master = {"PATH": PATH, "HOME": str(data)}, layout.endpoint("s3-master", "master")
    common = [f"-ip={address}", f"-ip.bind={address}"]
    (data / "data").mkdir(exist_ok=True)
    if host == "s3-master":
        # 001: every volume has a second copy on another volume server of the same rack.
        return [Service("master", [weed, "master", *common, f"-port={layout.ports['master']}", f"-mdir={data / 'data'}",
                                   "-defaultReplication=001", "-volumeSizeLimitMB=1024", "-telemetry=false"], env, data)]
    if host.startswith("vol"):
        return [Service("volume", [weed, "volume", *common, f"-port={layout.ports['volume']}", f"-dir={data / 'data'}",
                                   f"-mserver={master}", "-max=200",
                                   # The default waits 10 s after a stop request before stopping.
                                   "-preStopSeconds=1"], env, data)]
    filer = layout.endpoint("s3-gw", "filer")
    return [
        Service("filer", [weed, "filer", *common, f"-port={layout.ports['filer']}", f"-master={master}",
                          f"-defaultStoreDir={data / 'data'}", f"-localSocket={data / 'filer.sock'}"], env, data),
        Service("s3", [weed, "s3", *common, f"-port={layout.ports['s3']}", f"-filer={filer}",
                       f"-config={layout.state / 'etc' / 's3.json'}", f"-localSocket={data / 's3.sock'}",
                       "-port.iceberg=0", "-port.lance=0"], env, data),
    ]


def init_database(layout: Layout, password: str) -> None:
    data = layout.host_dir("db") / "data"
    if (data / "PG_VERSION").exists():
        return
    folder = layout.host_dir("db")
    shutil.chown(folder, "postgres", "postgres")
    folder.chmod(0o700)
    pwfile = folder / "pwfile"
    pwfile.write_text(password + "\n")
    shutil.chown(pwfile, "postgres", "postgres")
    result = subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "initdb"), "-D", str(data), "-U", "coffer",
                             f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8"],
                            capture_output=True, text=True, check=False)
    pwfile.unlink()
    if result.returncode != 0:
        raise ClusterError(f"initdb failed: {result.stderr.strip()}")
    with open(data / "pg_hba.conf", "a") as hba:
        hba.write(f"host all all {layout.net.gateway}/{layout.net.prefix} scram-sha-256\n")


def database_service(layout: Layout) -> Service:
    folder = layout.host_dir("db")
    # fsync off: a killed server loses nothing (the kernel keeps its writes); only a machine crash would.
    return Service("postgres", ["runuser", "-u", "postgres", "--", str(PG_BIN / "postgres"), "-D", str(folder / "data"),
                                "-c", f"listen_addresses={layout.hosts['db']}", "-c", f"port={layout.ports['db']}",
                                "-c", f"unix_socket_directories={folder}", "-c", "fsync=off"],
                   {"PATH": PATH, "LANG": "C.UTF-8"}, folder)


def clear_stale_lock_files(layout: Layout, host: str) -> None:
    """Before a killed host starts again: PostgreSQL refuses to start while the PID in its lock files
    (``postmaster.pid`` in the data folder, ``.s.PGSQL.PORT.lock`` beside the socket) exists, and a killed
    postmaster stays a zombie until whatever adopted it reaps it (on a real machine that lost power the
    PID is simply gone). A lock file whose PID is dead or a zombie is removed."""
    if host != "db":
        return
    folder = layout.host_dir("db")
    for lock_file in (folder / "data" / "postmaster.pid", *folder.glob(".s.PGSQL.*.lock")):
        try:
            pid = int(lock_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if not alive(pid):
            lock_file.unlink(missing_ok=True)


def redis_service(layout: Layout) -> Service:
    data = layout.host_dir("redis")
    return Service("redis-server", ["redis-server", "--bind", layout.hosts["redis"], "--port", str(layout.ports["redis"]),
                                    "--requirepass", layout.secrets()["redis_password"], "--appendonly", "yes",
                                    "--save", "", "--dir", str(data)], {"PATH": PATH}, data)


def host_services(layout: Layout, host: str) -> list[Service]:
    if host in COFFER_HOSTS:
        return coffer_services(layout, host)
    if host == "lb":
        cfg = layout.host_dir("lb") / "haproxy.cfg"
        return [Service("haproxy", ["haproxy", "-db", "-f", str(cfg)], {"PATH": PATH}, layout.host_dir("lb"))]
    if host == "db":
        return [database_service(layout)]
    if host == "redis":
        return [redis_service(layout)]
    return weed_services(layout, host)


def prepare_database(layout: Layout) -> None:
    """The `coffer` database, once (the cluster's role was made by initdb)."""
    folder = layout.host_dir("db")
    check = subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "psql"), "-h", str(folder), "-p",
                            str(layout.ports["db"]), "-U", "coffer", "-d", "postgres", "-tAc",
                            "SELECT 1 FROM pg_database WHERE datname = 'coffer'"], capture_output=True, text=True,
                           check=False)
    if check.stdout.strip() == "1":
        return
    run_once(layout.net.namespace("db"), ["runuser", "-u", "postgres", "--", str(PG_BIN / "createdb"), "-h", str(folder),
                                          "-p", str(layout.ports["db"]), "-U", "coffer", "coffer"],
             {"PATH": PATH}, folder, folder / "prepare.log", 30)


def prepare_coffer(layout: Layout) -> None:
    """migrate, collectstatic, storage_init: once, from portal1, through deploy/manage.sh as docs/deploy.md says."""
    folder = layout.host_dir("portal1")
    env = {"PATH": PATH, "LANG": "C.UTF-8", "HOME": str(folder), "COFFER_ENV": str(folder / "coffer.env")}
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"], ["storage_init"]):
        run_once(layout.net.namespace("portal1"), [str(ROOT / "deploy" / "manage.sh"), *command], env, ROOT,
                 folder / "prepare.log", PREPARE_TIMEOUT)
