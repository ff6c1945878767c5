"""Teach drf-spectacular about device tokens (imported from apps.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "portal.backups.authentication.DeviceTokenAuthentication"
    name = "deviceToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A device token: `Authorization: Bearer cofferdev_...` (docs/backup-protocol.md)"}
