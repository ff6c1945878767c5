"""The portal's own WSGI application (same settings, middleware and
gunicorn) plus one bench-only URL, ``/bench/trivial``, answering "ok": the
peer of bench/share.py. Served with ``gunicorn trivial_wsgi --pythonpath bench``;
the product's URLs are not changed.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

import portal.urls  # noqa: E402

TRIVIAL_PATH = "bench/trivial"


def trivial(request):
    return HttpResponse("ok", content_type="text/plain")


# Before the first request builds (and caches) the URL resolver.
portal.urls.urlpatterns.append(path(TRIVIAL_PATH, trivial, name="bench-trivial"))
application = get_wsgi_application()
