"""The admin console's own records: site settings (one row) and, from
snapshots_model.py, the daily storage snapshot."""

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


from portal.adminpanel.snapshots_model import StorageSnapshot  # noqa: E402,F401  (registers the model)
