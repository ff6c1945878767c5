"""What the OpenAPI schema says beyond the serializers: Coffer's bearer tokens
and browser sessions, its one error shape on every operation, and downloads.

Error answers are added by ``CofferAutoSchema`` (the project's
DEFAULT_SCHEMA_CLASS) rather than by hand per view: every operation documents
the statuses any API request can meet (401 without credentials, 403, 404 when
the path or body names something, 400 when the request carries input, 409 on
a write, 503 when a service is down) and a view method adds the ones only it
answers with ``@error_responses(413, 423, ...)``. Each is the ``Error`` component.
"""

from __future__ import annotations

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "portal.accounts.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A personal access token: `Authorization: Bearer coffer_...`"}


class VerifiedSessionScheme(SessionScheme):
    """The browser session, as drf-spectacular describes DRF's own (a subclass is not matched by default)."""

    target_class = "portal.accounts.authentication.VerifiedSessionAuthentication"


# status -> (what it means, the generic codes answered with it). Views may answer a more specific
# code with the same status (invalid_path, name_taken...); clients branch on the status first.
ERRORS = {
    400: ("The request is not valid; nothing was changed.", ["invalid_input", "malformed_request", "invalid_*"]),
    401: ("No valid credentials were sent.", ["not_authenticated"]),
    403: ("Signed in, but not allowed to do this (or a session write without its CSRF token).", ["forbidden"]),
    404: ("No such object, or one the caller may not see (the same answer for both).", ["not_found"]),
    405: ("The route does not take this method.", ["method_not_allowed"]),
    409: ("The request conflicts with the current state: a name taken, an archived space, a legal hold, "
          "a retention policy, a version moved on.", ["conflict", "name_taken", "archived", "legal_hold",
                                                      "under_retention"]),
    412: ("A precondition no longer holds (a lock token that is not live on this file).",
          ["precondition_failed", "lock_token_invalid"]),
    413: ("The body or file is larger than allowed.", ["too_large"]),
    415: ("The body is not JSON.", ["unsupported_media_type"]),
    416: ("The requested byte range is not in the file.", ["range_not_satisfiable"]),
    423: ("Someone else's lock on the file (or on files inside the folder).", ["locked"]),
    429: ("Too many requests; retry after the Retry-After header's seconds.", ["throttled"]),
    503: ("A service Coffer needs is not answering, or the bytes are being restored from an archive tier; "
          "retry after the Retry-After header's seconds.", ["unavailable", "storage_unavailable", "restoring"]),
    507: ("The space's quota would be exceeded.", ["quota_exceeded"]),
}
CODES_DESCRIPTION = "Stable identifiers to match on; by status: " + "; ".join(
    f"{status}: {', '.join(codes)}" for status, (_meaning, codes) in ERRORS.items())


class ErrorOut(serializers.Serializer):
    """Every error the API answers, whatever its status."""

    code = serializers.CharField(help_text=CODES_DESCRIPTION)
    message = serializers.CharField(help_text="What happened and what to do, in the requester's language")
    detail = serializers.DictField(help_text="Machine-readable particulars: the invalid fields, a limit...")

    class Meta:
        ref_name = "Error"


_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def error_responses(*statuses: int):
    """The error statuses this view method answers besides the ones every operation documents."""
    unknown = set(statuses) - set(ERRORS)
    assert not unknown, f"no description for {unknown}: add it to ERRORS"

    def mark(method):
        method.error_statuses = tuple(statuses)
        return method
    return mark


class CofferAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        error = self.resolve_serializer(ErrorOut, "response").ref
        for status in sorted(self._error_statuses()):
            responses.setdefault(str(status), {
                "description": ERRORS[status][0],
                "content": {"application/json": {"schema": error}},
            })
        return responses

    def _error_statuses(self) -> set[int]:
        statuses = {503}
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            statuses |= {401, 403}
        if self.method in _WRITES or self._has_query_parameters():
            statuses.add(400)
        if self.method in _WRITES:
            statuses.add(409)  # any write may meet an archived space, a legal hold, a name taken...
        if self.method in _WRITES - {"DELETE"}:
            statuses |= {404, 415}  # a body names spaces, files, users...
        if "{" in self.path or self._has_query_parameters("page"):
            statuses.add(404)  # a path's object, or a page past the last
        handler = getattr(self.view, self.method.lower(), None)
        statuses.update(getattr(handler, "error_statuses", ()))
        return statuses

    def map_parsers(self):
        # Bodies are JSON: strict booleans and lists of objects do not survive form encoding, and DRF's
        # form parsers are there for the browsable API. Offered three encodings of one model,
        # openapi-python-client generates a body argument that does not run (tests/api/test_generated_client.py).
        media_types = super().map_parsers()
        return ["application/json"] if "application/json" in media_types else media_types

    def _has_query_parameters(self, name: str | None = None) -> bool:
        return any(p.get("in") == "query" and name in (None, p.get("name")) for p in self._get_parameters())


def binary_responses(media_type: str, *, ranges: bool = False, redirect: bool = False) -> dict:
    """The ``responses`` of a download: bytes (of ``media_type``, ``*/*`` for a file's own type), a
    206 for a byte range and 304 for a matching If-None-Match when the portal streams them itself,
    and a 302 to a presigned object-store URL when it does not."""
    body = OpenApiResponse(OpenApiTypes.BINARY, description="The bytes, as an attachment (or inline)")
    responses = {(200, media_type): body}
    if ranges:
        responses[(206, media_type)] = OpenApiResponse(OpenApiTypes.BINARY, description="The requested byte range")
        responses[304] = OpenApiResponse(description="Unchanged since the ETag in If-None-Match")
        responses[416] = ErrorOut
    if redirect:
        responses[302] = OpenApiResponse(description="The Location header is a presigned object-store URL "
                                                     "that lives at most five minutes; GET it without credentials")
    return responses
