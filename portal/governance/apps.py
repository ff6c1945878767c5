from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovernanceConfig(AppConfig):
    """Retention policies and legal holds (later: sensitive-content detectors, ransomware alerts)."""
    name = "portal.governance"
    label = "governance"
    verbose_name = _("Governance")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from portal.governance import receivers  # noqa: F401 - connects the deletion guards
        from portal.governance import sensitivity_receivers  # noqa: F401 - labels versions scanned clean
        from portal.governance import ransomware_receivers  # noqa: F401 - feeds the ransomware detector
