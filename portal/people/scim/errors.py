"""SCIM's own error shape (RFC 7644 §3.12): every failure under /scim/v2/
answers ``{"schemas": [ERROR], "status": "400", "scimType": ..., "detail": ...}``."""

from __future__ import annotations

from portal.core.errors import PortalError

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

# A portal error's status → the scimType a SCIM client matches on.
_SCIM_TYPES = {400: "invalidValue", 409: "uniqueness"}


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str = ""):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    def as_dict(self) -> dict:
        body = {"schemas": [ERROR_SCHEMA], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


def from_portal_error(exc: PortalError) -> ScimError:
    return ScimError(exc.status, exc.message, _SCIM_TYPES.get(exc.status, ""))


def invalid_syntax(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidSyntax")


def invalid_value(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidValue")


def invalid_filter(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidFilter")


def invalid_path(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidPath")


def not_found(detail: str) -> ScimError:
    return ScimError(404, detail)


def uniqueness(detail: str) -> ScimError:
    return ScimError(409, detail, "uniqueness")
