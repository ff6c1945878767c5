from django.core.management.base import BaseCommand, CommandError

from portal.core.errors import PortalError


class Command(BaseCommand):
    help = "Create the storage folder or S3 bucket if missing, and check that it answers."

    def handle(self, *args, **options):
        from portal.storage import get_store

        store = get_store()
        try:
            store.ensure_bucket()
            store.check()
        except PortalError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Storage ready: {store}")
