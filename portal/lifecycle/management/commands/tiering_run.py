"""``manage.py tiering_run``: apply the tiering policies now (what the
hourly beat task does), optionally compact containers and sweep, and print
what moved."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from portal.core.errors import PortalError


class Command(BaseCommand):
    help = ("Move files idle past the tiering policy to colder tiers now (small ones packed into containers), "
            "then optionally compact containers and delete superseded copies whose grace period is over.")

    def add_arguments(self, parser):
        parser.add_argument("--max-blobs", type=int, help="Stop after moving this many stored objects.")
        parser.add_argument("--max-bytes", type=int, help="Stop after moving this many bytes.")
        parser.add_argument("--compact", action="store_true", help="Also rewrite sparse containers.")
        parser.add_argument("--sweep", action="store_true",
                            help="Also delete old copies whose grace period is over and finish due restores.")

    def handle(self, *args, max_blobs=None, max_bytes=None, compact=False, sweep=False, **options):
        from portal.lifecycle import restores, runs, sweeps

        for name, value in (("--max-blobs", max_blobs), ("--max-bytes", max_bytes)):
            if value is not None and value < 1:
                raise CommandError(f"{name} is a whole number, 1 or more.", returncode=2)
        try:
            report = {"tiering": runs.tiering_run(max_blobs=max_blobs, max_bytes=max_bytes).as_dict()}
            if compact:
                report["compaction"] = runs.containers_compact()
            if sweep:
                report["sweep"] = {"deleted": sweeps.superseded_delete(), **restores.restores_finish()}
        except PortalError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(json.dumps(report, indent=2))
