import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()

# /dav/ is WebDAV (wsgidav, portal/dav/app.py); everything else is Django.
from portal.dav.app import DavDispatcher  # noqa: E402 - needs Django set up first

application = DavDispatcher(application)
