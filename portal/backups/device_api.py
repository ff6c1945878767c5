"""The device side of backups (docs/backup-protocol.md): enrollment without
credentials, everything else with ``Authorization: Bearer cofferdev_...``."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from django.utils.translation import gettext

from portal.api.fields import Int64Field
from portal.api.serializers import validated
from portal.backups import schema as _device_token_scheme  # noqa: F401 - describes device tokens in the OpenAPI schema
from portal.backups import selectors
from portal.backups.authentication import DeviceTokenAuthentication, IsDevice
from portal.backups.keys import user_key_set
from portal.backups.serializers import EnrollIn, ReportIn, SnapshotIn, SnapshotOut
from portal.backups.services import devices, packs, snapshots
from portal.core.errors import InvalidInput
from portal.core.pagination import PagePagination, paginated_response


def _body(request, *allowed: str) -> dict:
    data = request.data
    if not isinstance(data, dict):
        raise InvalidInput(gettext("Send a JSON object."), code="invalid_input")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InvalidInput(gettext("Unknown field(s): %(join)s.") % {"join": ', '.join(unknown)}, code="invalid_input",
                           detail={key: ["Unknown field."] for key in unknown})
    return data


class DeviceView(APIView):
    authentication_classes = [DeviceTokenAuthentication]
    permission_classes = [IsDevice]

    @property
    def device(self):
        return self.request.auth


class EnrollView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=EnrollIn, summary="Enroll a device with a one-time token",
                   responses={201: inline_serializer("Enrolled", {
                       "device_id": Int64Field(), "device_token": serializers.CharField(),
                       "keys": serializers.DictField(child=serializers.CharField()),
                       "key_set": serializers.CharField(),
                       "pack_size": Int64Field(), "server_time": serializers.DateTimeField()})})
    def post(self, request):
        data = validated(EnrollIn, request.data).provided()
        device, token, keys = devices.device_enroll(**data)
        return Response({"device_id": device.pk, "device_token": token, "keys": keys.as_b64(),
                         "key_set": keys.key_id, "pack_size": settings.BACKUP_PACK_SIZE,
                         "server_time": timezone.now()}, status=status.HTTP_201_CREATED)


class DeviceSelfView(DeviceView):
    @extend_schema(summary="This device", responses=inline_serializer("DeviceSelf", {
        "device_id": Int64Field(), "name": serializers.CharField(), "state": serializers.CharField(),
        "excludes": serializers.ListField(child=serializers.CharField()),
        "key_set": serializers.CharField(help_text="The key set new backups must use; when it is not the one "
                                                   "the agent holds, it fetches it from POST /backup/device/keys")}))
    def get(self, request):
        device = self.device
        return Response({"device_id": device.pk, "name": device.name, "state": device.state,
                         "excludes": device.excludes, "key_set": user_key_set(device.user).key_id})


class DeviceKeysView(DeviceView):
    @extend_schema(request=None, summary="This device's user's current key set (a rekey)",
                   responses=inline_serializer("DeviceKeys", {
                       "key_set": serializers.CharField(), "keys": serializers.DictField(child=serializers.CharField()),
                       "replaces": serializers.CharField(allow_null=True)}))
    def post(self, request):
        keys, replaces = devices.device_rekey(device=self.device)
        return Response({"key_set": keys.key_id, "keys": keys.as_b64(), "replaces": replaces})


_IDS = inline_serializer("ChunkIds", {"ids": serializers.ListField(child=serializers.CharField())})


class KnownView(DeviceView):
    @extend_schema(request=_IDS, summary="Which chunk ids the index holds (at most 10,000 per call)",
                   responses=inline_serializer("Known", {"known": serializers.ListField(child=serializers.CharField())}))
    def post(self, request):
        return Response({"known": packs.chunks_known(device=self.device, ids=_body(request, "ids").get("ids"))})


class LocateView(DeviceView):
    @extend_schema(request=_IDS, summary="Where chunks are, with a presigned GET of each pack",
                   responses=inline_serializer("Located", {
                       "chunks": serializers.DictField(child=serializers.DictField()),
                       "missing": serializers.ListField(child=serializers.CharField())}))
    def post(self, request):
        return Response(packs.chunks_locate(device=self.device, ids=_body(request, "ids").get("ids")))


class PackCreateView(DeviceView):
    @extend_schema(request=inline_serializer("PackIn", {"size": Int64Field()}),
                   summary="Announce a pack: its id and a URL that creates it with exactly `size` bytes",
                   responses={201: inline_serializer("PackOut", {
                       "pack_id": serializers.CharField(), "url": serializers.CharField(),
                       "headers": serializers.DictField(child=serializers.CharField(), help_text=(
                           "Send these with the PUT (the URL only creates the pack: a second PUT gets 412)")),
                       "expires_at": serializers.DateTimeField()})})
    def post(self, request):
        pack, url, headers, expires_at = packs.pack_create(device=self.device,
                                                           size=_body(request, "size").get("size"))
        return Response({"pack_id": pack.pack_id, "url": url, "headers": headers, "expires_at": expires_at},
                        status=status.HTTP_201_CREATED)


class PackIndexView(DeviceView):
    @extend_schema(summary="Register a stored pack's chunks (idempotent)",
                   request=inline_serializer("PackIndexIn", {"chunks": serializers.ListField(
                       child=serializers.DictField())}),
                   responses={201: inline_serializer("Indexed", {"registered": Int64Field(),
                                                                 "duplicates": Int64Field()})})
    def post(self, request, pack_id):
        answer = packs.pack_index(device=self.device, pack_id=pack_id,
                                  chunks=_body(request, "chunks").get("chunks"))
        return Response(answer, status=status.HTTP_201_CREATED)


class SnapshotsView(DeviceView):
    pagination_class = PagePagination

    @extend_schema(responses=SnapshotOut(many=True), summary="This device's snapshots, newest first")
    def get(self, request):
        return paginated_response(request, selectors.snapshot_list(self.device), SnapshotOut, view=self)

    @extend_schema(request=SnapshotIn, responses={201: SnapshotOut}, summary="Commit a snapshot")
    def post(self, request):
        data = validated(SnapshotIn, request.data).provided()
        snapshot = snapshots.snapshot_create(device=self.device, **data)
        return Response(SnapshotOut(snapshot).data, status=status.HTTP_201_CREATED)


class ReportView(DeviceView):
    @extend_schema(request=ReportIn, summary="Report a failed backup run (sets the device's error state)",
                   responses={201: inline_serializer("Reported", {"device_id": Int64Field(),
                                                                  "last_error": serializers.CharField()})})
    def post(self, request):
        data = validated(ReportIn, request.data).validated_data
        device = devices.device_report_failure(device=self.device, error=data["error"])
        return Response({"device_id": device.pk, "last_error": device.last_error}, status=status.HTTP_201_CREATED)
