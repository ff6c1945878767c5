"""The storage cost of per-user deduplication: backups are private to their
user, so the same data backed up by two users is stored twice, while two
devices of one user still store it once.

The portal runs under gunicorn with ``PORTAL_STORAGE=s3`` on a throwaway
SeaweedFS; three agents (``python -m sync_agent``) are enrolled with
``manage.py device_token``: two devices of user ``bench`` and one of a second
user. Each backs up its own copy of the same data (``--size``, default
256 MiB: four seeded files, one of them compressible text); the bytes under
``backups/packs/`` are measured after each backup.

Targets: a second device of the same user stores <= 1.05 x one copy in total;
a second user stores about 2 x (reported, by design).

Run: .venv/bin/python bench/backup_scope.py [--size 256M]
"""

from __future__ import annotations

import shutil

from agent import Agent, stored_bytes, tree_bytes, write_big
from harness import MiB, arguments, log, portal, seaweed, stop_on_sigterm, table, temp_dir

_OTHER_USER = """
import json
from portal.accounts.services import user_create
user_create(actor=None, username="bench-colleague", password="not used by the bench 9f2c")
print(json.dumps({"ok": True}))
"""


def main() -> None:
    args = arguments(__doc__.split("\n\n")[0], size_help="data each device backs up", size_default="256M",
                     runs_default=1)
    stop_on_sigterm()
    with seaweed() as s3, portal(storage="s3", s3=s3, extra_env=args.portal_env) as server, \
            temp_dir("coffer-bench-scope-") as work:
        (work / "user-home").mkdir()
        server.shell(_OTHER_USER)
        copies = [work / "laptop", work / "desktop", work / "colleague"]
        copies[0].mkdir()
        for n in range(4):
            write_big(copies[0] / f"part-{n}.bin", args.size // 4, seed=900 + n, text=n == 3)
        for copy in copies[1:]:
            shutil.copytree(copies[0], copy)
        size = tree_bytes(copies[0])
        agents = [Agent(server, work, "laptop"), Agent(server, work, "desktop"),
                  Agent(server, work, "colleague", user="bench-colleague")]
        stored = [stored_bytes(s3, "backups/packs/")]
        for agent, copy in zip(agents, copies, strict=True):
            agent.cli("add", str(copy))
            seconds, summary, _ = agent.backup()
            stored.append(stored_bytes(s3, "backups/packs/"))
            log(f"{agent.name}: {seconds:.1f} s, uploaded {summary['added_bytes'] / MiB:.1f} MiB in "
                f"{summary['packs']} packs; stored now {(stored[-1] - stored[0]) / MiB:.1f} MiB")
        one = stored[1] - stored[0]
        same_user = (stored[2] - stored[0]) / one
        two_users = (stored[3] - stored[2] + one) / one
        rows = [
            ["one copy (stored MiB)", one / MiB, "", ""],
            ["2 devices of 1 user: stored / one copy", same_user, "<= 1.05", "PASS" if same_user <= 1.05 else "FAIL"],
            ["2 users: stored / one copy", two_users, "~2 (by design)",
             "PASS" if 1.9 <= two_users <= 2.1 else "FAIL"],
        ]
    print(table(["case", "value", "target", "result"], rows,
                title=f"\nper-user dedup: {size / MiB:.0f} MiB of data per device"))


if __name__ == "__main__":
    main()
