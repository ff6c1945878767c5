"""The discovery documents (RFC 7644 §4): what this service provider
supports, its resource types, and the schemas of the attributes it maps."""

from __future__ import annotations

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SERVICE_PROVIDER_CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"

MAX_RESULTS = 200
DOCS = "https://www.rfc-editor.org/rfc/rfc7644"


def service_provider_config(base: str) -> dict:
    return {
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "documentationUri": DOCS,
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [{
            "type": "oauthbearertoken", "name": "Bearer token", "primary": True,
            "description": "A token from `manage.py scim_token NAME`, sent as `Authorization: Bearer <token>`.",
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base}/ServiceProviderConfig"},
    }


def resource_types(base: str) -> list[dict]:
    return [
        {"schemas": [RESOURCE_TYPE], "id": "User", "name": "User", "endpoint": "/Users",
         "description": "A Coffer account", "schema": USER, "schemaExtensions": [],
         "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/User"}},
        {"schemas": [RESOURCE_TYPE], "id": "Group", "name": "Group", "endpoint": "/Groups",
         "description": "A Coffer group provisioned by the identity provider", "schema": GROUP,
         "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/Group"}},
    ]


def _attr(name, kind="string", *, multi=False, required=False, mutability="readWrite", unique="none",
          sub=None, case_exact=False):
    attr = {"name": name, "type": kind, "multiValued": multi, "required": required, "caseExact": case_exact,
            "mutability": mutability, "returned": "default", "uniqueness": unique}
    if sub:
        attr["subAttributes"] = sub
    return attr


def schemas(base: str) -> list[dict]:
    user = [
        _attr("userName", required=True, unique="server"),
        _attr("name", "complex", sub=[_attr("givenName"), _attr("familyName"), _attr("formatted")]),
        _attr("displayName"),
        _attr("emails", "complex", multi=True, sub=[_attr("value"), _attr("type"), _attr("primary", "boolean")]),
        _attr("active", "boolean"),
        _attr("groups", "complex", multi=True, mutability="readOnly",
              sub=[_attr("value", mutability="readOnly"), _attr("display", mutability="readOnly")]),
    ]
    group = [
        _attr("displayName", required=True, unique="server"),
        _attr("members", "complex", multi=True, sub=[_attr("value", mutability="immutable"),
                                                     _attr("display", mutability="readOnly")]),
    ]
    return [
        {"schemas": [SCHEMA], "id": USER, "name": "User", "description": "User Account", "attributes": user,
         "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{USER}"}},
        {"schemas": [SCHEMA], "id": GROUP, "name": "Group", "description": "Group", "attributes": group,
         "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{GROUP}"}},
    ]
