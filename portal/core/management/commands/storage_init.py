from django.core.management.base import BaseCommand, CommandError

from portal.core.errors import PortalError


class Command(BaseCommand):
    help = ("Create the storage folder or S3 bucket if missing, and those of every colder tier "
            "(PORTAL_TIERS), and check that each answers.")

    def handle(self, *args, **options):
        from portal.storage.tiers import tier_store, tiers

        for name in tiers():
            store = tier_store(name)
            try:
                store.ensure_bucket()
                store.check()
            except PortalError as exc:
                raise CommandError(f"tier {name}: {exc.message}") from None
            self.stdout.write(f"Storage ready: {name}: {store}")
