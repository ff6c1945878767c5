"""Teach drf-spectacular about device tokens (imported by the device API's views, which the schema
describes: not at every process's start, where drf-spectacular costs a quarter of a second)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "portal.backups.authentication.DeviceTokenAuthentication"
    name = "deviceToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A device token: `Authorization: Bearer cofferdev_...` (docs/backup-protocol.md)"}
