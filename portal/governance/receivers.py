"""Last line of defence for deletions that bypass the services (the Django
admin deleting a user or a space cascades to everything they own): refused
while a legal hold or a retention protects any of it."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils.translation import gettext

from portal.governance.models import HoldKind, LegalHold
from portal.governance.selectors import UnderLegalHold, refuse_purge, space_protection
from portal.spaces.models import Space


@receiver(pre_delete, sender=Space, dispatch_uid="governance.space_delete")
def refuse_space_delete(sender, instance: Space, **kwargs) -> None:
    if LegalHold.objects.filter(kind=HoldKind.SPACE, space=instance, released_at__isnull=True).exists():
        raise UnderLegalHold(gettext("The space “%(name)s” is under a legal hold: it cannot be deleted until an "
                                     "administrator releases the hold.") % {"name": instance.name})
    refuse_purge(space_protection(instance.pk), label=instance.name)


@receiver(pre_delete, sender=get_user_model(), dispatch_uid="governance.user_delete")
def refuse_user_delete(sender, instance, **kwargs) -> None:
    if LegalHold.objects.filter(kind=HoldKind.USER, user=instance, released_at__isnull=True).exists():
        raise UnderLegalHold(gettext("The account “%(name)s” is under a legal hold: it cannot be deleted until an "
                                     "administrator releases the hold; disabling it is possible.")
                             % {"name": instance.get_username()})
