"""The wsgidav provider: maps ``/<space-slug>/<path>`` below the mount to
Coffer's spaces and nodes, as the signed-in user may see them."""

from __future__ import annotations

from urllib.parse import quote, unquote

from wsgidav import util
from wsgidav.dav_error import (
    HTTP_BAD_REQUEST,
    HTTP_CONFLICT,
    HTTP_FORBIDDEN,
    HTTP_REQUEST_ENTITY_TOO_LARGE,
    DAVError,
    PRECONDITION_CODE_PropfindFiniteDepth,
)
from wsgidav.dav_provider import DAVProvider

from portal.core.access import Cap
from portal.core.errors import InvalidInput, PortalError
from portal.dav.auth import USER_KEY
from portal.dav.request import RESOURCES_KEY
from portal.dav.resources import RootResource, wrap
from portal.dav.xml_guard import refuse_unsafe_xml
from portal.files import names
from portal.files.selectors import locate_in, path_walk, stored_names
from portal.spaces.models import Space
from portal.spaces.selectors import SpaceAccess, space_access

# Bodies wsgidav reads whole into memory (PROPFIND, PROPPATCH, LOCK XML).
MAX_XML_BODY = 1024 * 1024
_SPACES_KEY = "coffer.dav.spaces"


class CofferProvider(DAVProvider):
    def __repr__(self) -> str:
        return "CofferProvider"

    def is_readonly(self):
        return False

    # --- resolution ---------------------------------------------------------------

    def access_for(self, environ: dict, slug: str) -> SpaceAccess | None:
        """The user's access to the space with this slug if they may read it
        (resolved once per request: every resource of the space shares it)."""
        if environ.get(USER_KEY) is None:
            return None
        cache = environ.setdefault(_SPACES_KEY, {})
        if slug not in cache:
            space = Space.objects.filter(slug=slug.lower()).only("id").first()
            try:
                cache[slug] = space_access(environ[USER_KEY], space.pk, Cap.FILE_READ) if space else None
            except PortalError:  # outsiders learn nothing: not found, like a missing space
                cache[slug] = None
        return cache[slug]

    def get_resource_inst(self, path: str | None, environ: dict):
        # None: wsgidav's parent of the mount root, e.g. for ``PUT /dav/space/..``.
        if environ.get(USER_KEY) is None or path is None:
            return None
        parts = [part for part in path.split("/") if part]
        if not parts:
            return RootResource(environ)
        known = environ.get(RESOURCES_KEY, {}).get(quote("/" + "/".join(parts)))
        if known is not None and known.path.rstrip("/") == path.rstrip("/"):
            return known  # built by this request already (a listing's member, named again as a lock's root)
        access = self.access_for(environ, parts[0])
        if access is None:
            return None
        try:
            path_names = names.split_path("/" + "/".join(parts[1:]), existing=True)
        except InvalidInput:  # a name no file can have is simply not there
            return None
        chain = path_walk(access.space, path_names)
        if len(chain) <= len(path_names):
            return None
        located = locate_in(access, chain[-1], stored_names(chain))
        return wrap("/" + "/".join(parts), environ, located, access, chain=chain)

    def resource_for_ref(self, ref_url: str, environ: dict):
        """The resource behind a lock's key (a quoted URL below the mount)."""
        return self.get_resource_inst(unquote(ref_url), environ)

    def access_for_ref(self, ref_url: str, environ: dict) -> SpaceAccess | None:
        """The user's access to the space a lock's key (a quoted URL below the
        mount) is in, whether or not anything is at that URL yet."""
        slug = unquote(ref_url).strip("/").partition("/")[0]
        return self.access_for(environ, slug) if slug else None

    def destination(self, dest_path: str, environ: dict) -> tuple[SpaceAccess, list[str]]:
        """(access to the space, cleaned path names) of a COPY / MOVE destination below the mount."""
        parts = [part for part in dest_path.split("/") if part]
        if len(parts) < 2:
            raise DAVError(HTTP_FORBIDDEN, "The destination must be inside a space: /dav/<space>/<name>.")
        access = self.access_for(environ, parts[0])
        if access is None:
            raise DAVError(HTTP_CONFLICT, "The destination space does not exist.")
        try:
            return access, names.split_path("/" + "/".join(parts[1:]))
        except InvalidInput as exc:
            raise DAVError(HTTP_BAD_REQUEST, exc.message) from exc

    # --- per request ---------------------------------------------------------------

    def custom_request_handler(self, environ, start_response, default_handler):
        user = environ.get(USER_KEY)
        if user is not None:
            # Lock ownership compares principals: use the stored name, whatever case was typed.
            environ["wsgidav.user_name"] = user.get_username()
        method = environ["REQUEST_METHOD"]
        if method != "PUT" and util.get_content_length(environ) > MAX_XML_BODY:
            raise DAVError(HTTP_REQUEST_ENTITY_TOO_LARGE, f"Request bodies are at most {MAX_XML_BODY} bytes.")
        refuse_unsafe_xml(environ)
        if method == "PROPFIND" and environ.get("HTTP_DEPTH", "infinity").strip().lower() == "infinity":
            # RFC 4918 9.1: a server may refuse infinite depth; clients then walk with Depth: 1.
            raise DAVError(HTTP_FORBIDDEN, "PROPFIND with Depth: infinity is not allowed; use Depth: 0 or 1.",
                           err_condition=PRECONDITION_CODE_PropfindFiniteDepth)
        def answer(status, headers, exc_info=None):
            if method in ("COPY", "MOVE") and status.startswith("204") and environ.get("coffer.dav.created"):
                # wsgidav answers 204 whenever the provider did the work; RFC 4918
                # wants 201 when the destination did not exist before.
                status = "201 Created"
            return start_response(status, headers, exc_info)

        return default_handler(environ, answer)
