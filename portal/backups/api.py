"""The user side of backups: devices, their snapshots, restores, retention.
Device-token endpoints are in device_api.py."""

from __future__ import annotations

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView
from django.utils.translation import gettext

from portal.accounts.models import PersonalAccessToken
from portal.api.schema import binary_responses, error_responses
from portal.backups import selectors
from portal.backups.serializers import (
    DeviceOut, DeviceUpdateIn, EnrollmentTokenIn, EnrollmentTokenOut, FolderOut, RetentionIn, RetentionOut,
    SnapshotOut, retention_out,
)
from portal.backups.services import devices, restore, retention
from portal.api.serializers import query_flag, validated
from portal.core.access import is_admin
from portal.core.errors import Forbidden
from portal.core.pagination import PagePagination, paginated_response
from portal.storage.base import content_disposition


class EnrollmentTokenView(APIView):
    @extend_schema(request=EnrollmentTokenIn, responses={201: EnrollmentTokenOut},
                   summary="A one-time token (24 h) to enroll a device of mine (signed-in session, or an "
                           "administrator's personal access token)")
    def post(self, request):
        if isinstance(request.auth, PersonalAccessToken) and not is_admin(request.user):
            # A device's credentials carry backup keys: a leaked token must not turn into one.
            raise Forbidden(gettext("A personal access token cannot create enrollment tokens; make one in the portal "
                            "(Devices → Enroll a device), or ask an administrator."), code="token_cannot_enroll")
        data = validated(EnrollmentTokenIn, request.data).provided()
        token, plaintext = devices.enrollment_token_create(actor=request.user, owner=request.user, **data)
        return Response({"token": plaintext, "expires_at": token.expires_at,
                         "command": devices.enroll_command(plaintext)}, status=status.HTTP_201_CREATED)


class DeviceListView(APIView):
    pagination_class = PagePagination

    @extend_schema(responses=DeviceOut(many=True), summary="My devices (administrators: ?all=1 for every device)")
    def get(self, request):
        everyone = query_flag(request.query_params, "all")
        return paginated_response(request, selectors.devices_visible_to(request.user, everyone=everyone),
                                  DeviceOut, view=self)


class DeviceDetailView(APIView):
    @extend_schema(responses=DeviceOut, summary="A device")
    def get(self, request, device_id):
        return Response(DeviceOut(selectors.access_device(request.user, device_id)).data)

    @extend_schema(request=DeviceUpdateIn, responses=DeviceOut, summary="Rename a device or set its excludes")
    def patch(self, request, device_id):
        device = selectors.access_device(request.user, device_id)
        data = validated(DeviceUpdateIn, request.data).provided()
        devices.device_update(actor=request.user, device=device, **data)
        return Response(DeviceOut(selectors.access_device(request.user, device_id)).data)

    @extend_schema(responses={200: DeviceOut}, summary="Revoke a device: its token stops working at once")
    def delete(self, request, device_id):
        device = selectors.access_device(request.user, device_id)
        devices.device_revoke(actor=request.user, device=device)
        return Response(DeviceOut(selectors.access_device(request.user, device_id)).data)


class DeviceSnapshotListView(APIView):
    pagination_class = PagePagination

    @extend_schema(responses=SnapshotOut(many=True), summary="A device's snapshots, newest first")
    def get(self, request, device_id):
        device = selectors.access_device(request.user, device_id)
        return paginated_response(request, selectors.snapshot_list(device), SnapshotOut, view=self)


def _snapshot(request, device_id, snapshot_id):
    return selectors.access_snapshot(selectors.access_device(request.user, device_id), snapshot_id)


class SnapshotTreeView(APIView):
    @extend_schema(responses=FolderOut, summary="A folder's entries in a snapshot")
    def get(self, request, device_id, snapshot_id, path=""):
        return Response(restore.folder_list(_snapshot(request, device_id, snapshot_id), path))


class _DownloadView(APIView):
    # Errors are JSON whatever the client accepts.
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


def _attachment(response: HttpResponse, *, filename: str, content_type: str, length: int) -> HttpResponse:
    response["Content-Type"] = content_type
    response["Content-Length"] = str(length)
    response["Content-Disposition"] = content_disposition(filename)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class SnapshotContentView(_DownloadView):
    @extend_schema(responses=binary_responses("*/*"),
                   summary="One file of a snapshot, decrypted by the portal and streamed")
    @error_responses(409)
    def get(self, request, device_id, snapshot_id, path):
        snapshot = _snapshot(request, device_id, snapshot_id)
        plan = restore.file_restore(snapshot, path)
        restore.restore_record(actor=request.user, snapshot=snapshot, path=plan.path, kind="file", files=1,
                               size=plan.size)
        return _attachment(StreamingHttpResponse(plan.body), filename=plan.filename,
                           content_type=plan.content_type, length=plan.size)


class SnapshotZipView(_DownloadView):
    @extend_schema(responses=binary_responses("application/zip"),
                   summary="A folder of a snapshot (default: all of it) as a streamed zip")
    @error_responses(409, 413)
    def get(self, request, device_id, snapshot_id, path=""):
        snapshot = _snapshot(request, device_id, snapshot_id)
        plan = restore.zip_restore(snapshot, path)
        restore.restore_record(actor=request.user, snapshot=snapshot, path=plan.path, kind="zip",
                               files=plan.files, size=plan.bytes)
        return _attachment(StreamingHttpResponse(plan.chunks()), filename=plan.filename,
                           content_type="application/zip", length=plan.length)


class DeviceRetentionView(APIView):
    @extend_schema(responses=RetentionOut, summary="The retention policy that applies to a device")
    def get(self, request, device_id):
        device = selectors.access_device(request.user, device_id)
        return Response(retention_out(*retention.policy_for(device)))

    @extend_schema(request=RetentionIn, responses=RetentionOut, summary="Set a device's own retention policy")
    def put(self, request, device_id):
        device = selectors.access_device(request.user, device_id)
        data = validated(RetentionIn, request.data).validated_data
        policy = retention.retention_set(actor=request.user, device=device, values=dict(data))
        return Response(retention_out(policy, "device"))


class DefaultRetentionView(APIView):
    @extend_schema(responses=RetentionOut, summary="The deployment's default retention policy")
    def get(self, request):
        return Response(retention_out(retention.default_policy(), "default"))

    @extend_schema(request=RetentionIn, responses=RetentionOut, summary="Set the default policy (administrators)")
    def put(self, request):
        if not is_admin(request.user):
            raise Forbidden(gettext("Only administrators set the default retention policy."), code="admin_only")
        data = validated(RetentionIn, request.data).validated_data
        policy = retention.retention_set(actor=request.user, device=None, values=dict(data))
        return Response(retention_out(policy, "default"))
