"""The portal's own WSGI application (same settings, middleware and
gunicorn) plus two bench-only URLs: ``/bench/trivial``, answering "ok" (the
peer of bench/share.py), and ``/bench/one-query``, answering "ok" after one
``SELECT 1`` (what a single database round trip costs on this machine, for
reading the share figures). Served with ``gunicorn trivial_wsgi --pythonpath
bench``; the product's URLs are not changed.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

import portal.urls  # noqa: E402

TRIVIAL_PATH = "bench/trivial"
ONE_QUERY_PATH = "bench/one-query"


def trivial(request):
    return HttpResponse("ok", content_type="text/plain")


def one_query(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return HttpResponse("ok", content_type="text/plain")


# Before the first request builds (and caches) the URL resolver.
portal.urls.urlpatterns.append(path(TRIVIAL_PATH, trivial, name="bench-trivial"))
portal.urls.urlpatterns.append(path(ONE_QUERY_PATH, one_query, name="bench-one-query"))
application = get_wsgi_application()
