"""docs/deploy.md, followed literally in a fresh folder (tests/deployment/guide.py says how
its paths are moved there): a database made by the guide's SQL on the machine's
PostgreSQL, a private Redis with the guide's persistence settings, SeaweedFS, the
guide's marked commands, the four services started from the shipped units' ExecStart
lines with the shipped settings file (edited as the guide says), behind the shipped
HAProxy configuration with a self-signed certificate for the portal and the store.
Chromium then signs in over https, sees styled pages, uploads straight to the store
and a share link downloads the bytes."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis
import requests

from tests.deployment.guide import (
    ROOT, SYSTEMD, Layout, edit_env_file, env_file_values, free_port, guide_blocks, haproxy_config, read_unit)
from tests.support.environment import DATABASE_URL, POSTGRES

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL")]
UNITS = ["coffer-web.service", "coffer-worker.service", "coffer-beat.service", "coffer-coedit.service"]
START_DEADLINE = 45
STOP_TIMEOUT = 20


@dataclass
class Stack:
    layout: Layout
    portal: str  # https://127.0.0.1:port, as browsers see it
    s3: str  # https://localhost:port, the same proxy under the store's name
    ca: Path
    guide_output: str
    admin_password: str
    redis: redis.Redis
    processes: dict[str, subprocess.Popen]
    env: dict[str, str]

    def log(self, name: str) -> str:
        path = self.layout.home / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"


def _bounded_wait(what: str, ready, deadline: float = START_DEADLINE, logs=lambda: ""):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        result = ready()
        if result:
            return result
        time.sleep(0.2)  # polling a starting server until its deadline
    raise AssertionError(f"{what} not ready within {deadline} s\n{logs()}")


def _stop(*processes: subprocess.Popen) -> None:
    """As systemd stops units with KillMode=mixed, all at once: SIGTERM to each main process, then
    SIGKILL to its whole group (children it left behind, or itself past the timeout)."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        process.terminate()
    started = time.monotonic()
    for process in running:
        try:
            process.wait(max(0.1, started + STOP_TIMEOUT - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _start(home: Path, name: str, command: list[str], env: dict, cwd=None) -> subprocess.Popen:
    with open(home / f"{name}.log", "wb") as log:
        return subprocess.Popen(command, cwd=cwd or home, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _database(stack: ExitStack) -> str:
    """The guide's SQL with this run's names; dropped at the end. Returns the database URL."""
    admin = urlparse(DATABASE_URL)._replace(path="/postgres").geturl()
    name, password = f"coffer_guide_{os.getpid()}", secrets.token_hex(12)
    (sql,) = guide_blocks("psql")
    psql = ["psql", admin, "-v", "ON_ERROR_STOP=1", "-q"]

    def drop():
        subprocess.run([*psql, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", "-c",
                        f"DROP ROLE IF EXISTS {name}"], check=True, capture_output=True, timeout=60)
    drop()
    stack.callback(drop)
    sql = sql.replace("CHANGE-ME", password).replace("coffer", name)
    subprocess.run(psql, input=sql, text=True, check=True, capture_output=True, timeout=60)
    parsed = urlparse(admin)
    return f"postgresql://{name}:{password}@{parsed.hostname}:{parsed.port or 5432}/{name}"


def _redis(stack: ExitStack, home: Path) -> tuple[str, redis.Redis]:
    """A private redis-server with the guide's redis.conf lines, on a free port."""
    (conf,) = guide_blocks("redis.conf")
    settings = [word for line in conf.splitlines() if line.strip()
                for word in (f"--{line.split()[0]}", *line.split()[1:])]
    port, folder = free_port(), home / "redis"
    folder.mkdir()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
               *settings]
    stack.callback(_stop, _start(home, "redis", command, os.environ.copy()))
    client = redis.Redis(port=port, socket_timeout=2)
    _bounded_wait("redis-server", lambda: _pings(client), logs=lambda: (home / "redis.log").read_text())
    return f"redis://127.0.0.1:{port}/0", client


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


def _certificate(home: Path) -> tuple[Path, Path]:
    """A private CA and a certificate it signed for both names, as HAProxy wants it (chain then key); clients
    trust the CA (docs/deploy.md §9). A self-signed certificate would not do: modern TLS stacks (rustls,
    under the native S3 client) refuse a CA certificate presented as the server's own."""
    ca_crt, ca_key, crt, key, csr = (home / name for name in ("ca.crt", "ca.key", "proxy.crt", "proxy.key", "proxy.csr"))
    openssl = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)  # noqa: E731
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=Coffer test CA",
            "-keyout", str(ca_key), "-out", str(ca_crt))
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(csr))
    extensions = home / "proxy.ext"
    extensions.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                          "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
            "-days", "1", "-extfile", str(extensions), "-out", str(crt))
    pem = home / "coffer.pem"
    pem.write_text(crt.read_text() + key.read_text())
    return pem, ca_crt


def _proxy(stack: ExitStack, home: Path, seaweed, web: str, coedit: str) -> tuple[str, str, Path]:
    if not shutil.which("haproxy"):
        pytest.fail("the production guide's test needs HAProxy: apt-get install haproxy (.ci/run does)")
    pem, crt = _certificate(home)
    port = free_port()
    cfg = home / "haproxy.cfg"
    cfg.write_text(haproxy_config(port=port, pem=pem, web=web, coedit=coedit,
                                  s3_port=urlparse(seaweed.endpoint_url).port,
                                  portal_host="127.0.0.1", s3_host="localhost"))
    check = subprocess.run(["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    stack.callback(_stop, _start(home, "haproxy", ["haproxy", "-db", "-f", str(cfg)], os.environ.copy()))
    return f"https://127.0.0.1:{port}", f"https://localhost:{port}", crt


def _run_guide(layout: Layout, shell_env: dict, settings: dict) -> str:
    """Every `run` block in order; after the block that installs coffer.env, the administrator's edit."""
    blocks = guide_blocks("run")
    for step in ["check --deploy", "migrate", "collectstatic", "storage_init", "ensure_admin", "user_create"]:
        assert any(f"deploy/manage.sh {step}" in block for block in blocks), f"the guide no longer runs {step}"
    shipped = env_file_values(SYSTEMD / "coffer.env")
    assert set(settings) - {"AWS_CA_BUNDLE"} <= set(shipped), "the test sets what the shipped file has a line for"
    output, edited = [], False
    for block in blocks:
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", layout.localize(block)], env=shell_env,
                                cwd=layout.home, capture_output=True, text=True, timeout=180)
        output.append(result.stdout + result.stderr)
        assert result.returncode == 0, f"guide block failed:\n{block}\n{''.join(output)}"
        if layout.env_file.exists() and not edited:
            layout.env_file.write_text(layout.localize(layout.env_file.read_text()))  # /var/lib/coffer moved too
            edit_env_file(layout.env_file, settings)
            edited = True
    assert edited, "no block of the guide installed /etc/coffer/coffer.env"
    return "".join(output)


def _shell_env(layout: Layout) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "DJANGO_"))}
    return {**env, "COFFER_ENV": str(layout.env_file)}


def _start_services(stack: ExitStack, layout: Layout) -> tuple[dict, dict]:
    settings = env_file_values(layout.env_file)
    env = {**_shell_env(layout), **settings}
    processes = {}
    for name in UNITS:
        unit = read_unit(name)
        assert unit.environment_file == "/etc/coffer/coffer.env"
        cwd = layout.localize(unit.working_directory)
        command = replace(unit, exec_start=layout.localize(unit.exec_start)).command(env)
        processes[name] = _start(layout.home, name, command, env, cwd=cwd)
    stack.callback(_stop, *processes.values())
    return processes, env


@pytest.fixture(scope="module")
def stack(tmp_path_factory, seaweed, browser):
    """Asks for the browser so every test of the module counts as a browser test: the suite runs those
    last, and this module's tests must stay together or the deployment would be built twice."""
    layout = Layout(tmp_path_factory.mktemp("coffer-production"))
    layout.make()
    with ExitStack() as cleanup:
        database = _database(cleanup)
        redis_url, redis_client = _redis(cleanup, layout.home)
        web, coedit = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        portal, s3, ca = _proxy(cleanup, layout.home, seaweed, web, coedit)
        settings = {
            "PORTAL_DATABASE_URL": database, "PORTAL_REDIS_URL": redis_url, "PORTAL_S3_ENDPOINT": s3,
            "PORTAL_S3_BUCKET": f"coffer-guide-{os.getpid()}", "PORTAL_S3_ACCESS_KEY": seaweed.access_key,
            "PORTAL_S3_SECRET_KEY": seaweed.secret_key, "PORTAL_PUBLIC_URL": portal,
            "PORTAL_ALLOWED_HOSTS": "127.0.0.1",
            "PORTAL_BIND": web, "PORTAL_COEDIT_BIND": coedit, "PORTAL_EMAIL_HOST": "",
            "AWS_CA_BUNDLE": str(ca),  # section 9: a certificate from a private CA
        }
        output = _run_guide(layout, _shell_env(layout), settings)
        admin_password = re.search(r"password: (\S+)", output).group(1)
        processes, env = _start_services(cleanup, layout)
        result = Stack(layout, portal, s3, ca, output, admin_password, redis_client, processes, env)
        logs = lambda: "\n".join(result.log(n) for n in ["haproxy", *UNITS])  # noqa: E731
        _bounded_wait("the portal through the proxy", lambda: _answers(f"{portal}/healthz", ca), logs=logs)
        # HAProxy marks a backend up only after its own health check passes: co-editing starts last.
        _bounded_wait("co-editing through the proxy", lambda: _answers(f"{portal}/coedit/health", ca), logs=logs)
        yield result


def _answers(url: str, ca: Path) -> bool:
    try:
        return requests.get(url, verify=str(ca), timeout=5, allow_redirects=False).status_code == 200
    except requests.RequestException:
        return False


def test_the_guide_sets_up_a_clean_deployment_with_a_persistent_redis(stack):
    assert "System check identified no issues" in stack.guide_output
    assert "Storage ready" in stack.guide_output
    assert f"CORS rule for browser uploads from {stack.portal}: set." in stack.guide_output
    assert stack.redis.info("persistence")["aof_enabled"] == 1
    for name, process in stack.processes.items():
        assert process.poll() is None, f"{name} exited:\n{stack.log(name)}"
    assert _answers(f"{stack.portal}/coedit/health", stack.ca), stack.log("coffer-coedit.service")  # stays up
    # With Redis, beat keeps its schedule there and runs it under a lock (docs/deploy.md, several hosts).
    _bounded_wait("beat's lock and schedule in Redis",
                  lambda: stack.redis.exists("redbeat::lock", "redbeat::schedule") == 2,
                  logs=lambda: stack.log("coffer-beat.service"))


def test_the_proxy_replaces_the_scheme_a_client_claims(stack):
    """A client's own X-Forwarded-Proto never reaches Coffer: the proxy sets it (https here, so no redirect)."""
    answer = requests.get(f"{stack.portal}/accounts/login/", headers={"X-Forwarded-Proto": "http"},
                          verify=str(stack.ca), timeout=10, allow_redirects=False)
    assert answer.status_code == 200, answer.headers
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"  # no preload


def test_chromium_signs_in_over_https_uploads_to_the_store_and_a_share_link_downloads(stack, browser):
    context = browser.new_context(ignore_https_errors=True, base_url=stack.portal)
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        styles = []
        page.on("response", lambda r: styles.append(r) if r.url.endswith(".css") and "/static/" in r.url else None)
        _sign_in(page, stack.admin_password)
        coffer_css = [r.status for r in styles if r.url.endswith("/coffer.css")]
        assert coffer_css and set(coffer_css) == {200}, [(r.url, r.status) for r in styles]
        assert page.evaluate("getComputedStyle(document.body).margin") == "0px"  # coffer.css applied

        body = secrets.token_bytes(2_500_000)  # past the 1 MiB a browser PUTs to the portal itself with S3
        api = _api(stack)
        node = _upload(page, stack, api, body)
        file_url = f"{stack.portal}/api/v1/files/{node['id']}"
        _bounded_wait("the worker's hash", lambda: api.get(file_url).json().get("sha256"),
                      logs=lambda: stack.log("coffer-worker.service"))
        link = api.post(f"{stack.portal}/api/v1/shares", json={"node": node["id"], "permission": "download"})
        assert link.status_code == 201, link.text
        download = requests.get(f"{link.json()['url']}/download", verify=str(stack.ca), timeout=20)
        assert download.status_code == 200 and download.content == body
        assert download.history[-1].status_code == 302 and download.url.startswith(stack.s3 + "/")
    finally:
        context.close()


def _api(stack: Stack) -> requests.Session:
    """The REST API with a token made by the guide's manage.sh."""
    token = subprocess.run([str(ROOT / "deploy" / "manage.sh"), "issue_token", "admin"], env=_shell_env(stack.layout),
                           capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    session = requests.Session()
    session.verify, session.trust_env = str(stack.ca), False  # REQUESTS_CA_BUNDLE would win over verify
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _sign_in(page, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert "/accounts/login/" not in page.url and page.url.startswith("https://"), page.url


def _upload(page, stack: Stack, api: requests.Session, body: bytes) -> dict:
    spaces = api.get(f"{stack.portal}/api/v1/spaces/").json()
    space = (spaces["results"] if isinstance(spaces, dict) else spaces)[0]
    puts = []
    page.on("request", lambda r: puts.append(r.url) if r.method == "PUT" else None)
    page.goto(f"/spaces/{space['id']}/")
    upload = stack.layout.home / "report.bin"
    upload.write_bytes(body)
    page.locator("#uploader[data-ready='1']").wait_for(state="attached")
    page.locator("#upload-input").set_input_files(str(upload))
    page.locator("#upload-files", has_text="✓").wait_for(timeout=30_000)
    assert puts and all(url.startswith(stack.s3 + "/") for url in puts), puts  # straight to the store, via CORS
    return api.get(f"{stack.portal}/api/v1/spaces/{space['id']}/tree/report.bin").json()
