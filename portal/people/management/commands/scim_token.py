from django.core.management.base import BaseCommand, CommandError

from portal.core.errors import PortalError
from portal.people.scim.models import ScimToken
from portal.people.scim.services import scim_token_create, scim_token_revoke


class Command(BaseCommand):
    help = ("Create a SCIM provisioning token named NAME (one per identity provider) and print it (only) on "
            "stdout; it cannot be shown again. --revoke revokes every live token of that name instead.")

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--revoke", action="store_true")

    def handle(self, *args, name, revoke, **options):
        if revoke:
            tokens = list(ScimToken.objects.filter(name=name, revoked_at__isnull=True))
            if not tokens:
                raise CommandError(f"No live SCIM token is named {name!r}.")
            for token in tokens:
                scim_token_revoke(actor=None, token=token)
            self.stderr.write(f"Revoked {len(tokens)} token(s) named {name!r}.")
            return
        try:
            _, plaintext = scim_token_create(actor=None, name=name)
        except PortalError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(plaintext)
