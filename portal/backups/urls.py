"""Backup routes, mounted under /api/v1/ (see docs/backup-protocol.md)."""

from django.urls import path, re_path

from portal.backups import api, device_api
from portal.core.ids import ID_RE

_SNAPSHOT = "devices/<id:device_id>/snapshots/<id:snapshot_id>"
_SNAPSHOT_RE = rf"^devices/(?P<device_id>{ID_RE})/snapshots/(?P<snapshot_id>{ID_RE})"

urlpatterns = [
    # the user side (session or personal access token)
    path("devices/enrollment-tokens", api.EnrollmentTokenView.as_view(), name="device-enrollment-tokens"),
    path("devices", api.DeviceListView.as_view(), name="device-list"),
    path("devices/<id:device_id>", api.DeviceDetailView.as_view(), name="device-detail"),
    path("devices/<id:device_id>/snapshots", api.DeviceSnapshotListView.as_view(), name="device-snapshots"),
    re_path(rf"{_SNAPSHOT_RE}/tree(?:/(?P<path>.*))?$", api.SnapshotTreeView.as_view(), name="snapshot-tree"),
    path(f"{_SNAPSHOT}/content/<path:path>", api.SnapshotContentView.as_view(), name="snapshot-content"),
    re_path(rf"{_SNAPSHOT_RE}/zip(?:/(?P<path>.*))?$", api.SnapshotZipView.as_view(), name="snapshot-zip"),
    path("devices/<id:device_id>/retention", api.DeviceRetentionView.as_view(), name="device-retention"),
    path("backup/retention", api.DefaultRetentionView.as_view(), name="backup-retention"),
    # the device side (device token; enrollment without credentials)
    path("backup/enroll", device_api.EnrollView.as_view(), name="backup-enroll"),
    path("backup/device", device_api.DeviceSelfView.as_view(), name="backup-device"),
    path("backup/device/keys", device_api.DeviceKeysView.as_view(), name="backup-device-keys"),
    path("backup/chunks/known", device_api.KnownView.as_view(), name="backup-chunks-known"),
    path("backup/chunks/locate", device_api.LocateView.as_view(), name="backup-chunks-locate"),
    path("backup/packs", device_api.PackCreateView.as_view(), name="backup-packs"),
    path("backup/packs/<str:pack_id>/index", device_api.PackIndexView.as_view(), name="backup-pack-index"),
    path("backup/snapshots", device_api.SnapshotsView.as_view(), name="backup-snapshots"),
    path("backup/reports", device_api.ReportView.as_view(), name="backup-reports"),
]
