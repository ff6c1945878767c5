from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models.functions import Lower

from portal.accounts.models import User
from portal.core.errors import PortalError
from portal.people.models import Group, GroupSource
from portal.people.services import group_create, group_member_add

BAD_INPUT = 2


class Command(BaseCommand):
    help = ("Add users to a local group, creating the group if there is none of that name (audited, as the "
            "system). An unknown user changes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("group")
        parser.add_argument("users", nargs="+", metavar="user")

    def handle(self, *args, group, users, **options):
        users = list(dict.fromkeys(users))
        # Usernames are unique ignoring case: match them so.
        rows = User.objects.annotate(low=Lower("username")).filter(low__in=[name.lower() for name in users])
        by_low = {user.username.lower(): user for user in rows}
        found = {name: by_low[name.lower()] for name in users if name.lower() in by_low}
        unknown = [name for name in users if name not in found]
        if unknown:
            raise CommandError(f"No user named {', '.join(map(repr, unknown))}; nothing was changed.",
                               returncode=BAD_INPUT)
        try:
            with transaction.atomic():
                existing = Group.objects.filter(name__iexact=group.strip()).first()
                if existing is not None and existing.source != GroupSource.LOCAL:
                    raise CommandError(f"The group {existing.name!r} is mirrored from {existing.source}; change its "
                                       "members there.", returncode=BAD_INPUT)
                target = existing or group_create(actor=None, name=group)
                added = [name for name, user in found.items()
                         if group_member_add(actor=None, group=target, user=user)]
        except PortalError as exc:
            raise CommandError(exc.message, returncode=BAD_INPUT) from None
        made = "" if existing else " (new group)"
        already = len(found) - len(added)
        self.stdout.write(f"{target.name}{made}: added {', '.join(added) or 'nobody'}"
                          + (f"; {already} already a member" if already else "") + ".")
