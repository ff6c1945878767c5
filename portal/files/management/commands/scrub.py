"""``manage.py scrub``: read every stored file back and check it against its
SHA-256 now (what the hourly ``files.scrub`` task does a slice at a time),
print the counts as JSON. Exit 0 when every blob read matches, 1 when one is
damaged or missing (each flagged and audited), 2 on bad options, 3 when the
store stopped answering (nothing is flagged for that)."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from portal.core.errors import PortalError


class Command(BaseCommand):
    help = ("Read every stored file back and compare it with its recorded SHA-256; flag and audit damaged or "
            "missing ones. Exit 1 when any is, 3 when the store stopped answering.")

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, help="Stop after checking this many stored objects.")
        parser.add_argument("--tier", help="Check only the files kept in this storage tier.")

    def handle(self, *args, limit=None, tier=None, **options):
        from portal.files.services import scrub

        if limit is not None and limit < 1:
            raise CommandError("--limit is a whole number, 1 or more.", returncode=2)
        try:
            report = scrub.blobs_scrub(full=True, batch=limit, tier=tier).as_dict()
        except PortalError as exc:
            raise CommandError(exc.message, returncode=2) from None
        self.stdout.write(json.dumps(report, indent=2))
        if report["unavailable"]:
            self.stderr.write(f"The store stopped answering: {report['unavailable']}")
            sys.exit(3)
        if report["mismatched"] or report["missing"]:
            self.stderr.write(f"{report['mismatched']} damaged and {report['missing']} missing of "
                              f"{report['checked']} checked: {report['bad_blobs']}")
            sys.exit(1)
