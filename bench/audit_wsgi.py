"""The portal's own WSGI application plus one bench-only switch: a request
with ``X-Bench-No-Audit: 1`` downloads without its ``file.downloaded`` audit
call (``portal.files.services.downloads.record`` becomes a no-op for that
request only). bench/audit.py compares the two in the same run. Served with
``gunicorn audit_wsgi --pythonpath bench``; the product is not changed.
"""

import contextvars
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402

from portal.files.services import downloads  # noqa: E402

_skip = contextvars.ContextVar("bench_skip_audit", default=False)
_record = downloads.record


def _maybe_record(**kwargs):
    # Both arms go through this wrapper, so only the audit call differs.
    return None if _skip.get() else _record(**kwargs)


downloads.record = _maybe_record
_portal = get_wsgi_application()


def application(environ, start_response):
    token = _skip.set(environ.get("HTTP_X_BENCH_NO_AUDIT") == "1")
    try:
        return _portal(environ, start_response)
    finally:
        _skip.reset(token)
