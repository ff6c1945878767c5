from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from portal.spaces.services import personal_space_create


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="personal_space_for_new_user")
def _personal_space_for_new_user(sender, instance, created, raw=False, **kwargs):
    # Whatever path created the user (service, createsuperuser, admin), it gets its space.
    if created and not raw:
        personal_space_create(user=instance)
