"""The WebDAV application at ``/dav/`` and the dispatcher that puts it beside
Django in one WSGI app (``portal.wsgi.application``), so ``make run``'s
gunicorn serves both.

Each DAV request runs like a Django request: database connections past their
age are closed before and after it, and the audit context (client address,
user agent) is bound for the services it calls.
"""

from __future__ import annotations

import logging
import threading
from types import SimpleNamespace

from django.db import close_old_connections
from wsgidav.error_printer import ErrorPrinter
from wsgidav.http_authenticator import HTTPAuthenticator
from wsgidav.request_resolver import RequestResolver
from wsgidav.wsgidav_app import WsgiDAVApp

from portal.audit import context
from portal.audit.middleware import client_ip
from portal.dav.auth import THROTTLED_KEY, USER_KEY
from portal.dav.faults import DavFaults, LoggedElsewhere
from portal.dav.lock_storage import CofferLockManager, CofferLockStorage
from portal.dav.provider import CofferProvider
from portal.dav.request import REFUSAL_RECORDED, current_environ
from portal.dav.services import lock_refusal_record

MOUNT = "/dav"
BLOCK_SIZE = 1024 * 1024  # GET and PUT move the body in 1 MiB reads


class _ExpectedRefusals(logging.Filter):
    """wsgidav logs every failed PUT with a traceback; a refusal (423 locked,
    507 quota, 400 bad name, a client that hung up) is an answer, not a fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        cause = getattr(error, "__cause__", None) or error
        status = getattr(error, "value", None) or getattr(cause, "status", None)
        return not (isinstance(status, int) and status < 500)


_EXPECTED_REFUSALS = _ExpectedRefusals()
_LOGGED_ELSEWHERE = LoggedElsewhere()


def build_dav_app() -> WsgiDAVApp:
    locks = CofferLockStorage()
    provider = CofferProvider()
    app = WsgiDAVApp({
        "mount_path": MOUNT,
        "provider_mapping": {"/": provider},
        "lock_storage": locks,
        "property_manager": None,  # dead properties: portal.dav.models.DeadProperty, via the resources
        # DavFaults first sees every exception: Redis down is 503, any other fault is logged with its traceback.
        "middleware_stack": [ErrorPrinter, DavFaults, HTTPAuthenticator, RequestResolver],
        "http_authenticator": {
            "domain_controller": "portal.dav.auth.TokenDomainController",
            "accept_basic": True,
            "accept_digest": False,
            "default_to_digest": False,
        },
        "block_size": BLOCK_SIZE,
        "add_header_MS_Author_Via": True,
        "suppress_version_info": True,
        "verbose": 1,
        "logging": {"enable": False},
    })
    locks.provider = provider
    provider.set_lock_manager(CofferLockManager(locks))  # capability first, then locks
    app.lock_manager = provider.lock_manager
    logging.getLogger("wsgidav").setLevel(logging.WARNING)
    logging.getLogger("wsgidav.request_server").addFilter(_EXPECTED_REFUSALS)  # added once, however many apps
    logging.getLogger("wsgidav.error_printer").addFilter(_LOGGED_ELSEWHERE)
    return app


class DavDispatcher:
    """``/dav`` and below to WebDAV, everything else to Django."""

    def __init__(self, django_app, dav_app=None):
        self.django_app = django_app
        self._dav_app = dav_app
        self._building = threading.Lock()

    @property
    def dav_app(self):
        with self._building:  # built once, on first use (Django is set up by then)
            if self._dav_app is None:
                self._dav_app = build_dav_app()
            return self._dav_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == MOUNT or path.startswith(MOUNT + "/"):
            return self._dav(environ, start_response)
        return self.django_app(environ, start_response)

    def _dav(self, environ, start_response):
        # WSGI's split: /dav moves to SCRIPT_NAME, wsgidav sees the rest (its
        # hrefs come from its mount_path, the same "/dav").
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + MOUNT
        environ["PATH_INFO"] = environ["PATH_INFO"][len(MOUNT):] or "/"
        audit = context.bind(context.RequestContext(
            ip=client_ip(SimpleNamespace(META=environ)), user_agent=environ.get("HTTP_USER_AGENT", "")[:512]))
        request = current_environ.set(environ)
        close_old_connections()
        body = None
        try:
            body = self.dav_app(environ, _recording_refusals(environ, start_response))
            yield from body
        finally:
            if body is not None and hasattr(body, "close"):
                body.close()
            close_old_connections()
            current_environ.reset(request)
            context.unbind(audit)


def _recording_refusals(environ, start_response):
    """start_response that records a 423 wsgidav gave from the lock table
    before any service ran (those record their own), as lock.write_refused,
    and turns the 401 of a throttled sign-in into 429 with Retry-After."""

    def answer(status, headers, exc_info=None):
        if status.startswith("401") and environ.get(THROTTLED_KEY):  # see portal.dav.auth
            status = "429 Too Many Requests"
            headers = [(name, value) for name, value in headers if name.lower() != "www-authenticate"]
            headers.append(("Retry-After", str(environ[THROTTLED_KEY])))
        user = environ.get(USER_KEY)
        if status.startswith("423") and user is not None and environ["REQUEST_METHOD"] != "LOCK" \
                and not environ.get(REFUSAL_RECORDED):
            lock_refusal_record(actor=user, method=environ["REQUEST_METHOD"], path=environ["PATH_INFO"])
        return start_response(status, headers, exc_info)

    return answer
