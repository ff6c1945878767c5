"""The console's one access rule: administrators only; anyone else gets the
portal's 404 page (the console's existence is not worth announcing)."""

from __future__ import annotations

from functools import wraps

from django.utils.translation import gettext

from portal.core.access import is_admin
from portal.core.errors import NotFound
from portal.web.common import portal_page


def console_page(view):
    """Signed in (else the sign-in page), an administrator (else 404), and a
    PortalError shown in place as on every portal page."""
    @portal_page
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_admin(request.user):
            raise NotFound(gettext("No such page."))
        return view(request, *args, **kwargs)
    return wrapper
