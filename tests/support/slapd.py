"""A real OpenLDAP server for the LDAP tests and the sync benchmark.

``running_slapd()`` starts Debian's ``/usr/sbin/slapd`` on a free loopback
port with a throwaway ``slapd.conf`` (schemas core, cosine, inetorgperson,
nis; an mdb database in a temp folder; an admin bind) and stops it when the
``with`` block ends, by its own pid. A seed LDIF is loaded offline with
``slapadd`` first (fast, for the benchmark's ten thousand entries).

Fixtures (registered from tests/conftest.py):

- ``slapd`` (session): one server for the run, holding only the suffix.
- ``ldap_directory``: a fresh subtree for one test (``ou=t<n>``) with
  people and nested groups (below), the portal's PORTAL_LDAP_* settings
  pointed at it (through pytest-django's ``settings``) and the LDAP
  backend installed; the subtree is deleted afterwards.

The subtree: people lena, omar, quinn, pia (password ``<name>-directory-pw``);
groups ``coffer-users`` (lena and the group engineering), ``engineering``
(omar and the group platform), ``platform`` (quinn), ``sales`` (pia).
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

SLAPD = os.environ.get("PORTAL_TEST_SLAPD", "/usr/sbin/slapd")
SLAPADD = "/usr/sbin/slapadd"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
# msuser: Active Directory's user and group classes, for entries shaped like AD's (objectGUID, userAccountControl).
SCHEMAS = ("core", "cosine", "inetorgperson", "nis", "msuser")
SUFFIX = "dc=coffer,dc=test"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "directory-admin-secret"
START_DEADLINE = 20.0
REQUIRED = os.environ.get("PORTAL_TEST_REQUIRE_SERVICES") == "1"
BACKEND = "portal.people.directory.backend.DirectoryBackend"

_CONFIG = """\
{includes}
modulepath {modules}
moduleload back_mdb
pidfile {folder}/slapd.pid
argsfile {folder}/slapd.args
sizelimit unlimited
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
database mdb
maxsize 4294967296
suffix "{suffix}"
rootdn "{admin_dn}"
rootpw {admin_password}
directory {folder}/data
dbnosync
index objectClass eq
index uid,cn,member eq
"""

_BASE = f"""\
dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
o: Coffer tests
dc: coffer
"""


def unavailable() -> str | None:
    """Why no slapd can be started here, or None."""
    if not os.access(SLAPD, os.X_OK):
        return f"OpenLDAP's slapd not found at {SLAPD} (apt-get install slapd ldap-utils)"
    try:
        import ldap
    except ImportError:
        return "python-ldap is not installed (apt-get install libldap2-dev libsasl2-dev, then make test)"
    if not hasattr(ldap, "initialize"):
        return "python-ldap is broken"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Slapd:
    uri: str
    suffix: str
    admin_dn: str
    admin_password: str
    folder: Path
    process: subprocess.Popen

    def connect(self):
        """A python-ldap connection bound as the admin."""
        import ldap

        conn = ldap.initialize(self.uri, bytes_mode=False)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 5)
        conn.simple_bind_s(self.admin_dn, self.admin_password)
        return conn

    def add_ldif(self, text: str) -> None:
        """Add the entries of an LDIF text (parents before children)."""
        import io

        import ldap.modlist
        import ldif

        records = ldif.LDIFRecordList(io.StringIO(text))
        records.parse()
        conn = self.connect()
        try:
            for dn, entry in records.all_records:
                conn.add_s(dn, ldap.modlist.addModlist(entry))
        finally:
            conn.unbind_s()

    def delete_tree(self, dn: str) -> None:
        import ldap

        conn = self.connect()
        try:
            found = conn.search_s(dn, ldap.SCOPE_SUBTREE, "(objectClass=*)", ["1.1"])
            for child, _ in sorted(found, key=lambda item: -item[0].count(",")):
                conn.delete_s(child)
        except ldap.NO_SUCH_OBJECT:
            pass
        finally:
            conn.unbind_s()


def _write_config(folder: Path, suffix: str, schemas) -> Path:
    (folder / "data").mkdir()
    includes = "\n".join(f"include {SCHEMA_DIR / name}.schema" for name in schemas)
    path = folder / "slapd.conf"
    path.write_text(_CONFIG.format(includes=includes, modules=MODULE_DIR, folder=folder, suffix=suffix,
                                   admin_dn=f"cn=admin,{suffix}", admin_password=ADMIN_PASSWORD))
    return path


def _wait_until_bound(server: Slapd, log: Path) -> None:
    import ldap

    deadline = time.monotonic() + START_DEADLINE
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"slapd exited with {server.process.returncode}: {log.read_text()[-2000:]}")
        try:
            server.connect().unbind_s()
            return
        except ldap.SERVER_DOWN:
            if time.monotonic() > deadline:
                raise RuntimeError(f"slapd did not answer on {server.uri} within {START_DEADLINE:.0f} s") from None
            time.sleep(0.05)


@contextmanager
def running_slapd(*, seed_ldif: str = _BASE, suffix: str = SUFFIX, schemas=SCHEMAS, prefix: str = "coffer-slapd-"):
    """A slapd on a free loopback port holding ``seed_ldif`` (loaded with
    slapadd before it starts); stopped and removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    process = None
    try:
        config = _write_config(folder, suffix, schemas)
        (folder / "seed.ldif").write_text(seed_ldif)
        subprocess.run([SLAPADD, "-q", "-f", str(config), "-l", str(folder / "seed.ldif")], check=True,
                       capture_output=True, timeout=600)
        uri = f"ldap://127.0.0.1:{_free_port()}/"
        log = folder / "slapd.log"
        with open(log, "wb") as out:
            # -d 0: stay in the foreground (no fork), so the pid is ours to stop.
            process = subprocess.Popen([SLAPD, "-h", uri, "-f", str(config), "-d", "0"], stdout=out,
                                       stderr=subprocess.STDOUT)
        server = Slapd(uri=uri, suffix=suffix, admin_dn=f"cn=admin,{suffix}", admin_password=ADMIN_PASSWORD,
                       folder=folder, process=process)
        _wait_until_bound(server, log)
        yield server
    finally:
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


# --- the tests' directory -----------------------------------------------------------

PEOPLE = {
    "lena": ("Lena", "Lindqvist", "Lena L."),
    "omar": ("Omar", "Haddad", "Omar H."),
    "quinn": ("Quinn", "Okafor", "Quinn O."),
    "pia": ("Pia", "Sorensen", "Pia S."),
}
GROUPS = {  # name: (people, groups)
    "coffer-users": (["lena"], ["engineering"]),
    "engineering": (["omar"], ["platform"]),
    "platform": (["quinn"], []),
    "sales": (["pia"], []),
}


def password_of(name: str) -> str:
    return f"{name}-directory-pw"


def person_ldif(base: str, name: str, first: str, last: str, display: str, *, password: str | None = None) -> str:
    return (f"dn: uid={name},ou=people,{base}\nobjectClass: inetOrgPerson\nuid: {name}\ncn: {first} {last}\n"
            f"givenName: {first}\nsn: {last}\ndisplayName: {display}\nmail: {name}@example.test\n"
            f"userPassword: {password or password_of(name)}\n")


def group_ldif(base: str, name: str, people, groups) -> str:
    members = [f"uid={p},ou=people,{base}" for p in people] + [f"cn={g},ou=groups,{base}" for g in groups]
    return f"dn: cn={name},ou=groups,{base}\nobjectClass: groupOfNames\ncn: {name}\n" + "".join(
        f"member: {m}\n" for m in members)


def tree_ldif(base: str) -> str:
    ou = base.split(",", 1)[0].split("=", 1)[1]
    parts = [f"dn: {base}\nobjectClass: organizationalUnit\nou: {ou}\n",
             f"dn: ou=people,{base}\nobjectClass: organizationalUnit\nou: people\n",
             f"dn: ou=groups,{base}\nobjectClass: organizationalUnit\nou: groups\n"]
    parts += [person_ldif(base, name, *names) for name, names in PEOPLE.items()]
    parts += [group_ldif(base, name, *members) for name, members in GROUPS.items()]
    return "\n".join(parts)


@dataclass
class TestDirectory:
    server: Slapd
    base: str

    def dn(self, name: str) -> str:
        return f"uid={name},ou=people,{self.base}" if name in PEOPLE or "=" not in name else name

    def group_dn(self, name: str) -> str:
        return f"cn={name},ou=groups,{self.base}"

    def modify(self, dn: str, changes: dict[str, list[str] | None]) -> None:
        """Replace attributes (None deletes the attribute)."""
        import ldap

        conn = self.server.connect()
        try:
            conn.modify_s(dn, [(ldap.MOD_REPLACE, attr, [v.encode() for v in values] if values is not None else None)
                               for attr, values in changes.items()])
        finally:
            conn.unbind_s()

    def delete(self, dn: str) -> None:
        self.server.delete_tree(dn)

    def rename(self, dn: str, new_rdn: str) -> None:
        """A rename at the directory (modrdn): the entry keeps its entryUUID."""
        conn = self.server.connect()
        try:
            conn.rename_s(dn, new_rdn, delold=1)
        finally:
            conn.unbind_s()

    def add(self, ldif_text: str) -> None:
        self.server.add_ldif(ldif_text)


_trees = itertools.count(1)


@pytest.fixture(scope="session")
def slapd():
    reason = unavailable()
    if reason:
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)
    with running_slapd() as server:
        yield server


def configure(settings, server: Slapd, base: str, **overrides) -> None:
    """Point the portal's PORTAL_LDAP_* settings at ``base`` on ``server``."""
    values = {
        "LDAP_URI": server.uri, "LDAP_KIND": "openldap", "LDAP_BIND_DN": server.admin_dn,
        "LDAP_BIND_PASSWORD": server.admin_password, "LDAP_START_TLS": False,
        "LDAP_USER_BASE": f"ou=people,{base}", "LDAP_USER_FILTER": "", "LDAP_LOGIN_ATTR": "", "LDAP_UUID_ATTR": "",
        "LDAP_ATTR_EMAIL": "mail", "LDAP_ATTR_FIRST_NAME": "givenName", "LDAP_ATTR_LAST_NAME": "sn",
        "LDAP_ATTR_DISPLAY_NAME": "displayName", "LDAP_GROUP_BASE": f"ou=groups,{base}", "LDAP_GROUP_FILTER": "",
        "LDAP_GROUP_TYPE": "", "LDAP_GROUP_NAME_ATTR": "cn", "LDAP_NESTED_GROUPS": True, "LDAP_REQUIRE_GROUP": "",
        "LDAP_DISABLED_FILTER": "", "LDAP_ADOPT_LOCAL_USERS": False, "LDAP_PAGE_SIZE": 2, "LDAP_TIMEOUT": 5,
    }
    values.update(overrides)
    for name, value in values.items():
        setattr(settings, name, value)
    if BACKEND not in settings.AUTHENTICATION_BACKENDS:
        settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, BACKEND]


@pytest.fixture
def ldap_directory(slapd, settings):
    """A fresh subtree with the people and groups above; the portal set to use it."""
    base = f"ou=t{next(_trees)}-{os.getpid()},{slapd.suffix}"
    slapd.add_ldif(tree_ldif(base))
    configure(settings, slapd, base)
    try:
        yield TestDirectory(server=slapd, base=base)
    finally:
        slapd.delete_tree(base)
