"""The wsgidav provider: maps ``/<space-slug>/<path>`` below the mount to
Coffer's spaces and nodes, as the signed-in user may see them."""

from __future__ import annotations

from urllib.parse import unquote

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
from portal.core.errors import InvalidInput, NotFound, PortalError
from portal.dav.auth import USER_KEY
from portal.dav.resources import RootResource, wrap
from portal.dav.xml_guard import refuse_unsafe_xml
from portal.files import names
from portal.files.selectors import node_at
from portal.spaces.models import Space
from portal.spaces.selectors import access_space

# Bodies wsgidav reads whole into memory (PROPFIND, PROPPATCH, LOCK XML).
MAX_XML_BODY = 1024 * 1024
_SPACES_KEY = "coffer.dav.spaces"


class CofferProvider(DAVProvider):
    def __repr__(self) -> str:
        return "CofferProvider"

    def is_readonly(self):
        return False

    # --- resolution ---------------------------------------------------------------

    def space_for(self, environ: dict, slug: str) -> Space | None:
        """The space with this slug if the user may read it (cached per request)."""
        cache = environ.setdefault(_SPACES_KEY, {})
        if slug not in cache:
            space = Space.objects.filter(slug=slug.lower()).only("id").first()
            try:
                cache[slug] = access_space(environ[USER_KEY], space.pk, Cap.FILE_READ) if space else None
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
        space = self.space_for(environ, parts[0])
        if space is None:
            return None
        try:
            path_names = names.split_path("/" + "/".join(parts[1:]), existing=True)
            node, stored = node_at(space, path_names)
        except (InvalidInput, NotFound):  # a name no file can have is simply not there
            return None
        return wrap("/" + "/".join(parts), environ, node, space, stored)

    def resource_for_ref(self, ref_url: str, environ: dict):
        """The resource behind a lock's key (a quoted URL below the mount)."""
        return self.get_resource_inst(unquote(ref_url), environ)

    def destination(self, dest_path: str, environ: dict) -> tuple[Space, list[str]]:
        """(space, cleaned path names) of a COPY / MOVE destination below the mount."""
        parts = [part for part in dest_path.split("/") if part]
        if len(parts) < 2:
            raise DAVError(HTTP_FORBIDDEN, "The destination must be inside a space: /dav/<space>/<name>.")
        space = self.space_for(environ, parts[0])
        if space is None:
            raise DAVError(HTTP_CONFLICT, "The destination space does not exist.")
        try:
            return space, names.split_path("/" + "/".join(parts[1:]))
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
