"""One WOPI request, resolved once: its access token, its proof keys, the token's user and the file."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext

from portal.collab.wopi.discovery import discovery_get
from portal.collab.wopi.models import WopiToken
from portal.collab.wopi.proof import proof_valid
from portal.collab.wopi.tokens import token_find
from portal.core.access import Cap
from portal.core.errors import Forbidden, NotFound, PortalError
from portal.files.models import NodeKind
from portal.files.selectors import Located, locate_node
from portal.files.services.common import too_large_error

logger = logging.getLogger(__name__)

SPOOL_MEMORY = 8 * 1024 * 1024
REFRESH_GUARD = "wopi:discovery:refreshed"


class WopiRefused(PortalError):
    """401 (the token), 404 (the file or the user's access to it), 500 (the proof keys)."""


@dataclass
class WopiRequest:
    request: object
    token: WopiToken
    access_token: str
    located: Located

    @property
    def user(self):
        return self.token.user

    def may_write(self) -> bool:
        """Whether this token's user may change the file now (their role today, not when it was issued)."""
        located = self.located
        return (self.token.can_write and located.can(Cap.FILE_WRITE) and not located.scoped
                and located.space.archived_at is None)

    def writable(self, *, relative: bool = False) -> Located:
        """The file, found again for writing; 401 when the token or the user's role does not allow it."""
        if not self.may_write():
            raise WopiRefused(gettext("This access token does not allow changing the file."),
                              code="wopi_read_only", status=401)
        return self.located

    def for_node(self, node_id) -> Located:
        return locate_node(self.user, node_id, Cap.FILE_READ)


def _access_token(request) -> str:
    token = request.GET.get("access_token", "")
    if not token:
        scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else ""
    return token


def _proof_holds(request, access_token: str) -> bool:
    """True when discovery publishes no keys (or proof is switched off); else the signatures decide,
    with discovery fetched again once a minute at most when they fail (the keys may have been rotated)."""
    if not settings.WOPI_DISCOVERY_URL or not settings.WOPI_PROOF_REQUIRED:
        return True
    url = settings.WOPI_HOST_URL + request.get_full_path()
    headers = request.headers
    for refresh in (False, True):
        if refresh and not cache.add(REFRESH_GUARD, 1, 60):
            return False
        found = discovery_get(refresh=refresh)
        if found is None:
            continue
        if found.proof_key is None and found.proof_key_old is None:
            return True
        if proof_valid(found, access_token=access_token, url=url, timestamp=headers.get("X-WOPI-TimeStamp"),
                       proof=headers.get("X-WOPI-Proof"), proof_old=headers.get("X-WOPI-ProofOld")):
            return True
    return False


def wopi_request(request, file_id) -> WopiRequest:
    """The request's token, proof and file, in that order (see portal.collab.wopi.views)."""
    django_request = getattr(request, "_request", request)
    if not str(file_id).isdigit():
        raise WopiRefused(gettext("No such file."), code="not_found", status=404)
    access_token = _access_token(django_request)
    token = token_find(access_token, file_id)
    if token is None:
        raise WopiRefused(gettext("The access token is unknown, expired or another file's."),
                          code="wopi_token_invalid", status=401)
    if not _proof_holds(django_request, access_token):
        logger.warning("WOPI proof keys did not verify for file %s", file_id)
        raise WopiRefused(gettext("The request's proof-key signatures do not hold."), code="wopi_proof_invalid",
                          status=500)
    try:
        located = locate_node(token.user, file_id, Cap.FILE_READ)
    except (NotFound, Forbidden):
        raise WopiRefused(gettext("No such file."), code="not_found", status=404) from None
    if located.node.kind != NodeKind.FILE:
        raise WopiRefused(gettext("No such file."), code="not_found", status=404)
    return WopiRequest(request=django_request, token=token, access_token=access_token, located=located)


@contextlib.contextmanager
def spool_body(request):
    """The request body in a temporary file (memory first, disk past 8 MiB), as (file, size);
    413 past PORTAL_MAX_FILE_SIZE, before or while it arrives."""
    declared = request.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > settings.MAX_FILE_SIZE:
        raise too_large_error()
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY) as spool:
        size = 0
        while chunk := request.read(1024 * 1024):
            size += len(chunk)
            if size > settings.MAX_FILE_SIZE:
                raise too_large_error()
            spool.write(chunk)
        spool.seek(0)
        yield spool, size


def utf7_decode(value: str | None) -> str | None:
    """A WOPI name header (UTF-7, per the spec); a value that is not valid UTF-7 is taken as it is."""
    if value is None:
        return None
    try:
        return value.encode("latin-1").decode("utf-7")
    except (UnicodeError, ValueError):
        return value


def utf7_encode(value: str) -> str:
    return value.encode("utf-7").decode("ascii")


__all__ = ["WopiRefused", "WopiRequest", "wopi_request", "spool_body", "utf7_decode", "utf7_encode"]
