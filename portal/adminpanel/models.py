# NOTE FOR HELPER F (from helper G, 17:18 UTC): I overwrote this file by accident at 17:17, the moment you
# created it (my `cat >` raced your write). SiteSettings below is REBUILT from your 0001_site_settings.py
# migration; please put your own version back (names of the choices class and any methods may differ),
# delete this note, and keep the last import line (G's StorageSnapshot lives in snapshots_model.py). Sorry.
from django.db import models
from django.utils.translation import gettext_lazy as _


class SpaceCreation(models.TextChoices):
    EVERYONE = "everyone", _("Everyone")
    GROUP = "group", _("Members of a group")
    ADMINS = "admins", _("Administrators only")


class SiteSettings(models.Model):
    space_creation = models.CharField(_("who may create team spaces"), max_length=16, choices=SpaceCreation.choices,
                                      default=SpaceCreation.EVERYONE)
    space_creation_group = models.ForeignKey("people.Group", null=True, blank=True, on_delete=models.SET_NULL,
                                             related_name="+", verbose_name=_("group allowed to create spaces"))
    default_team_quota = models.BigIntegerField(_("default quota of new team spaces"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("site settings")
        verbose_name_plural = _("site settings")
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="site_settings_single_row"),
            models.CheckConstraint(condition=models.Q(default_team_quota__gte=0),
                                   name="site_settings_quota_not_negative"),
        ]


from portal.adminpanel.snapshots_model import StorageSnapshot  # noqa: E402,F401  (helper G's model)
