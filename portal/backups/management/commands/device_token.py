from django.core.management.base import BaseCommand, CommandError

from portal.accounts.models import User
from portal.backups.services.devices import enroll_command, enrollment_token_create
from portal.core.errors import PortalError


class Command(BaseCommand):
    help = "Make a one-time enrollment token for a device of USERNAME; print it and the command to paste."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="The device's name (default: its hostname)")

    def handle(self, *args, username, name, **options):
        user = User.objects.filter(username__iexact=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        try:
            token, plaintext = enrollment_token_create(actor=None, owner=user, name=name)
        except PortalError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(plaintext)
        self.stdout.write(f"Valid until {token.expires_at:%Y-%m-%d %H:%M %Z}, once. On the machine, run:")
        self.stdout.write(f"  {enroll_command(plaintext)}")
