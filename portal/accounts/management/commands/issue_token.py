from django.core.management.base import BaseCommand, CommandError

from portal.accounts.models import User
from portal.accounts.services import token_issue
from portal.core.errors import PortalError


class Command(BaseCommand):
    help = "Issue a personal access token for USERNAME and print it (only) on stdout."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="command line")
        parser.add_argument("--days", type=int, default=None)

    def handle(self, *args, username, name, days, **options):
        user = User.objects.filter(username__iexact=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        try:
            _, plaintext = token_issue(actor=None, owner=user, name=name, days=days)
        except PortalError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(plaintext)
