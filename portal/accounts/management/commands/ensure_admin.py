import secrets

from django.core.management.base import BaseCommand, CommandError

from portal.accounts.models import User
from portal.accounts.services import user_create
from portal.core.errors import PortalError


class Command(BaseCommand):
    help = "Create the first administrator if there is none, printing its password once."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("An administrator already exists.")
            return
        password = secrets.token_urlsafe(12)
        try:
            user_create(actor=None, username=username, password=password, is_superuser=True)
        except PortalError as exc:
            raise CommandError(f"{exc.message} Choose another name with --username.") from None
        bar = "=" * 60
        self.stdout.write(f"{bar}\nAdministrator created (shown only this once):\n"
                          f"  username: {username}\n  password: {password}\n{bar}")
