"""``python manage.py audit_verify``: prove the audit log was not edited.

Exit 0 with a summary when the chain is intact; exit 1 naming the first event
that was altered, deleted or reordered (and the other problems found) when it
is not. See ``portal/audit/verify.py`` for every check.
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from portal.audit.verify import DEFAULT_HEADS, chain_verify
from portal.core.errors import PortalError


class Command(BaseCommand):
    help = "Verify the audit log's hash chain, its checkpoints and the exported heads; exit 1 on any problem."

    def add_arguments(self, parser):
        parser.add_argument("--from-checkpoint", nargs="?", const="latest", metavar="SEQ",
                            help="check only the events after a checkpoint (default: the latest), trusting it "
                                 "as far as its exported head confirms it")
        heads = parser.add_mutually_exclusive_group()
        heads.add_argument("--heads", type=int, default=DEFAULT_HEADS, metavar="N",
                           help=f"read the N newest exported heads from the object store (default {DEFAULT_HEADS})")
        heads.add_argument("--all-heads", action="store_const", const=None, dest="heads",
                           help="read every exported head")
        heads.add_argument("--no-heads", action="store_const", const=0, dest="heads",
                           help="do not read the object store (a full-table rewrite with the key may go unseen)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, from_checkpoint=None, heads=DEFAULT_HEADS, **options):
        try:
            report = chain_verify(from_checkpoint=from_checkpoint, heads=heads)
        except PortalError as exc:
            raise CommandError(exc.message) from None
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        elif report.ok:
            self.stdout.write(f"OK: {report.events} events verified (seq {report.start_seq + 1}..{report.last_seq}), "
                              f"{report.checkpoints_checked} checkpoints and {report.heads_checked} exported heads "
                              f"match, in {report.seconds:.1f} s.")
        else:
            first = report.problems[0]
            self.stderr.write(f"FAILED ({first.kind}): {first.message}")
            for problem in report.problems[1:]:
                self.stderr.write(f"  also ({problem.kind}): {problem.message}")
            self.stderr.write(f"{report.events} events read in {report.seconds:.1f} s.")
        if not report.ok:
            sys.exit(1)
