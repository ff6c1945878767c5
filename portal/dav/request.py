"""The WebDAV request being served, for code wsgidav calls without its
environ (the lock storage, error translation), and what the request has
loaded already: wsgidav asks for the same resources and locks many times
over (a listing's members again as lock roots, each URL above a written
one), and these answer from one walk of the tree instead."""

from __future__ import annotations

import contextvars

from portal.dav.models import LockOwner

current_environ: contextvars.ContextVar[dict | None] = contextvars.ContextVar("dav_environ", default=None)

# Set when a service already recorded the lock refusal it raised (lock.write_refused).
REFUSAL_RECORDED = "coffer.dav.refusal_recorded"

# What one request has loaded already (see portal.dav.lock_storage):
RESOURCES_KEY = "coffer.dav.resources"      # canonical URL -> resource
ROOTED_LOCKS_KEY = "coffer.dav.rooted"      # URL as asked -> [(live lock rooted there, its canonical URL)]
LOCK_OWNERS_KEY = "coffer.dav.lock_owners"  # lock token -> the client's <owner> XML ("": none kept)


def forget_resources(environ) -> None:
    """After a delete, move or copy the request's resources and locks may be
    gone or moved: later lookups (wsgidav checks that a deleted URL is gone)
    resolve again."""
    environ.pop(RESOURCES_KEY, None)
    forget_locks(environ)


def forget_locks(environ) -> None:
    """After a lock is taken, refreshed or released, the locks along a URL are looked up again."""
    environ.pop(ROOTED_LOCKS_KEY, None)


def remember_lock_owners(environ, tokens: list[str]) -> dict[str, str]:
    """The <owner> XML of these locks, by token, from this request's memory
    or one query ("" where the client gave none: owner_xml_for makes one up)."""
    known = environ.setdefault(LOCK_OWNERS_KEY, {})
    missing = [token for token in tokens if token not in known]
    if missing:
        known.update(dict.fromkeys(missing, ""))
        known.update(LockOwner.objects.filter(token__in=missing).values_list("token", "owner_xml"))
    return known
