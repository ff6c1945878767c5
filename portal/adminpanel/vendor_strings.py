"""Strings the Django admin and django-axes show that their own Simplified
Chinese catalogues lack. Listed here (marked, not translated at import) so
makemessages keeps them in Coffer's catalogue, which Django consults first."""

from django.utils.translation import gettext_noop

VENDOR_STRINGS = (
    # django.contrib.admin's app list (table headers for screen readers)
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    # django-axes (no zh_Hans catalogue)
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
)
