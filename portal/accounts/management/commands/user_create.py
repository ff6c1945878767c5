import secrets
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.accounts import mail
from portal.accounts.services import _clean_email, user_create, user_password_reset_send
from portal.core.errors import PortalError

BAD_INPUT = 2


class Command(BaseCommand):
    help = ("Create a user (audited, as the system). The password: --password-stdin reads it from one line of "
            "standard input; without it the account has no password yet and gets a one-time link to set one, "
            "mailed to --email if given, else printed here.")
    stealth_options = ("stdin",)  # tests pass the standard input in

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--staff", action="store_true", help="make them an administrator")
        parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")

    def handle(self, *args, username, email, staff, password_stdin, **options):
        try:
            email = _clean_email(email)
            password = self._password(options.get("stdin", sys.stdin)) if password_stdin else None
            with transaction.atomic():
                user = user_create(actor=None, username=username, password=password or secrets.token_urlsafe(32),
                                   email=email, is_superuser=staff)
                if password is None:
                    user.set_unusable_password()
                    user.save(update_fields=["password"])
                    if email:
                        user_password_reset_send(actor=None, user=user)
        except PortalError as exc:
            raise CommandError(exc.message, returncode=BAD_INPUT) from None
        role = "administrator" if staff else "user"
        if password is not None:
            self.stdout.write(f"Created the {role} {user.username}.")
        elif email:
            self.stdout.write(f"Created the {role} {user.username}; mailed a link to set the password to {email} "
                              f"(it works once, within {settings.PASSWORD_RESET_TIMEOUT // 3600} hours).")
        else:
            self.stdout.write(f"Created the {role} {user.username}. Give them this one-time link to set the "
                              f"password (it works within {settings.PASSWORD_RESET_TIMEOUT // 3600} hours):\n"
                              f"{mail.set_password_url(user)}")

    def _password(self, stdin) -> str:
        line = stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise CommandError("--password-stdin: standard input had no password on its first line.",
                               returncode=BAD_INPUT)
        return password
