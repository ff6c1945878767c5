"""Fill the search index from the tree (after installing, or to repair it):
every space's names and paths now, and, with --text, the text extraction of
every file's current version queued for the workers."""

from django.core.management.base import BaseCommand

from portal.files.models import Node
from portal.search import index


class Command(BaseCommand):
    help = "Index every space's names and paths; with --text, queue the text of every current version."

    def add_arguments(self, parser):
        parser.add_argument("--text", action="store_true", help="also queue text extraction (Celery)")

    def handle(self, *args, text=False, **options):
        from portal.search.tasks import index_version

        total = 0
        for root_id in Node.objects.filter(parent__isnull=True).values_list("pk", flat=True).iterator():
            total += index.index_subtree(root_id)
        self.stdout.write(f"indexed {total} names")
        if text:
            versions = (Node.objects.filter(kind="file", current_version__isnull=False)
                        .values_list("current_version_id", flat=True).iterator())
            queued = 0
            for version_id in versions:
                index_version.delay(version_id)
                queued += 1
            self.stdout.write(f"queued the text of {queued} versions")
