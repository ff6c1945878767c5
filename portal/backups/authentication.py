from rest_framework import authentication, permissions

from portal.backups.models import Device
from portal.backups.services.devices import DeviceRejected, device_authenticate
from portal.core.errors import NotAuthenticated


class DeviceRevoked(NotAuthenticated):
    code = "device_revoked"


class DeviceTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer cofferdev_...``: ``request.user`` is the
    device's owner, ``request.auth`` the Device. A revoked device answers
    401 ``device_revoked`` on every device endpoint."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, raw = header.partition(" ")
        if not header or scheme.lower() != self.keyword.lower():
            return None
        try:
            device = device_authenticate(raw)
        except DeviceRejected as exc:
            if exc.revoked:
                raise DeviceRevoked(exc.reason) from None
            raise NotAuthenticated(exc.reason) from None
        return device.user, device

    def authenticate_header(self, request):
        return self.keyword


class IsDevice(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, Device)
