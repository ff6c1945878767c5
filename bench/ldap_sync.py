"""The LDAP directory sync at company size, on PostgreSQL.

Generates ``--users`` people (10,000) and ``--groups`` groups (500) into a
throwaway OpenLDAP server (tests/support/slapd.py: Debian's slapd on a free
loopback port, the LDIF loaded with slapadd, stopped afterwards). Groups are
nested a bit: 10 site groups (a tenth of everyone each), team groups of
about 20 people, and department groups whose members are team groups only,
so every person is in three groups once nesting is flattened.

Each run takes a fresh database (a copy of one migrated template) and times
``manage.py ldap_sync``: the first sync (creates every account with its
personal space, identity, memberships and audit events; target <= 60 s) and
a second one with nothing changed (target <= 10 s). The time is the sync's
own (read + apply, as its summary event records it); the process's wall
time, Django's start included, is shown beside it. Afterwards the audit
events are sealed into the hash chain (as the beat sealer would) and the
chain verified, and ``--per-user`` accounts go through the one-at-a-time
path (a save that triggers the personal space, group_member_add) to show
what the bulk writes save.

Run: .venv/bin/python bench/ldap_sync.py [--runs 3] [--users 10000] [--groups 500]
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import time

import psycopg

from harness import ADMIN_DSN, PYTHON, ROOT, database, log, manage, median, portal_env, table, temp_dir, verdict

from tests.support.slapd import running_slapd  # noqa: E402  (harness put the repository on sys.path)

FIRST_TARGET = 60.0
AGAIN_TARGET = 10.0
SUFFIX = "dc=bench,dc=test"
SITES = 10


def generate(users: int, groups: int) -> str:
    """The directory as LDIF: people, site, team and department groups."""
    teams = max(1, (groups - SITES) * 9 // 10)
    departments = max(1, groups - SITES - teams)
    out = [f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Bench\ndc: bench\n",
           f"dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n",
           f"dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n"]
    for n in range(users):
        name = f"user{n:05d}"
        out.append(f"dn: uid={name},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: {name}\ncn: Person {n}\n"
                   f"givenName: Person\nsn: Number {n}\ndisplayName: Person {n}\nmail: {name}@example.test\n")
    person = lambda n: f"uid=user{n:05d},ou=people,{SUFFIX}"  # noqa: E731
    group = lambda name: f"cn={name},ou=groups,{SUFFIX}"  # noqa: E731
    members: dict[str, list[str]] = {}
    for n in range(users):
        members.setdefault(f"site-{n % SITES:02d}", []).append(person(n))
        members.setdefault(f"team-{n % teams:03d}", []).append(person(n))
    for t in range(teams):
        members.setdefault(f"department-{t % departments:02d}", []).append(group(f"team-{t:03d}"))
    for name, dns in members.items():
        out.append(f"dn: {group(name)}\nobjectClass: groupOfNames\ncn: {name}\n" + "".join(f"member: {d}\n"
                                                                                          for d in dns))
    return "\n".join(out)


def ldap_env(env: dict, uri: str, admin_dn: str, password: str) -> dict:
    return {**env, "PORTAL_LDAP_URI": uri, "PORTAL_LDAP_BIND_DN": admin_dn, "PORTAL_LDAP_BIND_PASSWORD": password,
            "PORTAL_LDAP_USER_BASE": f"ou=people,{SUFFIX}", "PORTAL_LDAP_GROUP_BASE": f"ou=groups,{SUFFIX}",
            "PORTAL_LDAP_SYNC_MINUTES": "0"}


def copy_database(template_url: str) -> str:
    name = f"coffer_bench_{secrets.token_hex(6)}"
    template = template_url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def timed_sync(env: dict) -> tuple[float, float, dict]:
    """(sync seconds, wall seconds, summary) of one ``manage.py ldap_sync``."""
    started = time.perf_counter()
    report = json.loads(manage(env, "ldap_sync", "--json"))
    return report["seconds"], time.perf_counter() - started, report


_AFTER = """
import json, time
import django
django.setup()
from portal.audit.chain import chain_seal
from portal.audit.models import AuditEvent
from portal.audit.verify import chain_verify
events = AuditEvent.objects.count()
t0 = time.perf_counter(); sealed = chain_seal(batch=20000); seal = time.perf_counter() - t0
t0 = time.perf_counter(); report = chain_verify(heads=0); verify = time.perf_counter() - t0
print(json.dumps({"events": events, "sealed": sealed, "seal": seal, "verify": verify, "ok": report.ok}))
"""

_PER_USER = """
import json, time
import django
django.setup()
from django.db import transaction
from portal.accounts.models import User
from portal.audit.actions import Action
from portal.audit.services import record
from portal.people.models import Group
from portal.people.services import group_member_add
groups = list(Group.objects.order_by("id")[:3])
t0 = time.perf_counter()
for n in range({count}):
    with transaction.atomic():
        user = User(username=f"one-by-one-{{n}}")
        user.set_unusable_password()
        user.save()  # the personal space follows (spaces.receivers)
        record(action=Action.USER_CREATED, actor=None, target=user, details={{"source": "ldap"}})
        for group in groups:
            group_member_add(actor=None, group=group, user=user)
print(json.dumps({{"seconds": time.perf_counter() - t0}}))
"""


def run_python(env: dict, code: str) -> dict:
    done = subprocess.run([PYTHON, "-c", code], cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "portal.settings"},
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--per-user", type=int, default=300, help="accounts through the one-at-a-time path (0: skip)")
    args, _ = parser.parse_known_args()  # `make bench BENCH_ARGS=...` passes every script the same arguments
    log(f"generating {args.users} people and {args.groups} groups")
    ldif = generate(args.users, args.groups)
    t0 = time.perf_counter()
    with running_slapd(seed_ldif=ldif, suffix=SUFFIX, prefix="coffer-bench-slapd-") as server, \
            temp_dir("coffer-bench-ldap-") as var_dir, database() as template_url:
        log(f"slapd up at {server.uri} with the directory loaded in {time.perf_counter() - t0:.1f} s")
        base_env = portal_env(var_dir=var_dir, database_url=template_url, port=1, storage="local")
        manage(base_env, "migrate", "--noinput")
        env_of = lambda url: ldap_env({**base_env, "PORTAL_DATABASE_URL": url}, server.uri,  # noqa: E731
                                      server.admin_dn, server.admin_password)
        firsts, agains, walls, last = [], [], [], None
        for run in range(args.runs):
            url = copy_database(template_url)
            try:
                first, wall, report = timed_sync(env_of(url))
                again, wall_again, report_again = timed_sync(env_of(url))
                log(f"run {run + 1}: first {first:.1f} s ({report['created']} created, {report['members_added']} "
                    f"memberships; steps {report['steps']}), again {again:.2f} s "
                    f"({report_again['created'] + report_again['updated']} changes; steps {report_again['steps']})")
                firsts.append(first), agains.append(again), walls.append((wall, wall_again))
                if run == args.runs - 1:
                    last = run_python(env_of(url), _AFTER)
                    if args.per_user:
                        last["per_user"] = run_python(env_of(url), _PER_USER.format(count=args.per_user))["seconds"]
            finally:
                drop_database(url)
    rows = [["first sync (s)", median(firsts), median(w for w, _ in walls), FIRST_TARGET,
             verdict(median(firsts) <= FIRST_TARGET)],
            ["no-change sync (s)", median(agains), median(w for _, w in walls), AGAIN_TARGET,
             verdict(median(agains) <= AGAIN_TARGET)]]
    print(table(["", "median", "wall (with start-up)", "target", ""], rows,
                title=f"LDAP sync of {args.users} people and {args.groups} groups, median of {args.runs} runs"))
    print(f"runs: first {', '.join(f'{s:.1f}' for s in firsts)} s; again {', '.join(f'{s:.2f}' for s in agains)} s")
    print(f"audit events written: {last['events']}; sealed into the chain in {last['seal']:.1f} s, chain verified "
          f"in {last['verify']:.1f} s: {'intact' if last['ok'] else 'BROKEN'}")
    if "per_user" in last:
        each = last["per_user"] / args.per_user
        print(f"one-at-a-time path: {each * 1000:.1f} ms an account (save, personal space, 3 groups), "
              f"{each * args.users:.0f} s for {args.users}")
    return 0 if median(firsts) <= FIRST_TARGET and median(agains) <= AGAIN_TARGET and last["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
