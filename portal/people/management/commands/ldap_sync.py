import json

from django.core.management.base import BaseCommand, CommandError

from portal.core.errors import PortalError
from portal.people.directory import config


class Command(BaseCommand):
    help = ("Synchronise accounts and groups with the LDAP directory now (as the scheduled sync does): create, "
            "update, disable and enable accounts, mirror groups. Audited as the system. Prints a summary "
            "(--json: the counts as JSON). Exits 1 when the directory could not be read; nothing changed then.")

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the summary as JSON")

    def handle(self, *args, as_json: bool = False, **options):
        if not config.enabled():
            raise CommandError("PORTAL_LDAP_URI is not set; see docs/ldap.md.")
        from portal.people.directory.services import directory_sync

        try:
            report = directory_sync(actor=None)
        except PortalError as exc:
            raise CommandError(exc.message) from None
        details = report.as_details()
        if as_json:
            self.stdout.write(json.dumps(details, sort_keys=True))
            return
        self.stdout.write(
            f"LDAP sync: {report.people} people, {report.groups} groups in the directory; {report.created} created, "
            f"{report.linked} linked, {report.updated} updated, {report.enabled} enabled, {report.disabled} "
            f"disabled; groups {report.groups_created} created, {report.groups_renamed} renamed, "
            f"{report.groups_deleted} deleted; memberships +{report.members_added} -{report.members_removed}; "
            f"{report.seconds:.1f} s.")
        if report.conflicts:
            self.stderr.write(f"Not synchronised ({len(report.conflicts)}; a local account or another entry has "
                              f"the name): {', '.join(report.conflicts[:20])}")

