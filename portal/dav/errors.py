"""Coffer's errors as WebDAV answers."""

from __future__ import annotations

from contextlib import contextmanager

from wsgidav.dav_error import DAVError

from portal.core.errors import Locked, PortalError
from portal.dav.request import REFUSAL_RECORDED, current_environ


def as_dav_error(exc: PortalError) -> DAVError:
    # PortalError statuses are already the HTTP ones WebDAV uses: 400, 403,
    # 404, 409, 412, 423 (locked), 507 (quota), 503 (store down).
    return DAVError(exc.status, context_info=exc.message)


@contextmanager
def dav_errors():
    """Run a service call; a PortalError becomes the matching DAVError."""
    try:
        yield
    except PortalError as exc:
        environ = current_environ.get()
        if isinstance(exc, Locked) and environ is not None:
            environ[REFUSAL_RECORDED] = True  # the service recorded it (records_lock_refusals)
        raise as_dav_error(exc) from exc
