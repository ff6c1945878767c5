"""REST views of resumable uploads."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView
from django.utils.translation import gettext

from portal.api.fields import Int64Field
from portal.api.schema import error_responses
from portal.api.serializers import StrictSerializer, TextField, validated
from portal.core.errors import InvalidInput
from portal.files.api import NodeOut, node_out
from portal.files.models import UploadSession, UploadState
from portal.files.services import uploads

URLS_PER_RESPONSE = 1000


class UploadIn(StrictSerializer):
    space = Int64Field()
    path = TextField(allow_blank=True, trim_whitespace=False)
    size = Int64Field(min_value=0)
    sha256 = TextField(required=False, allow_blank=True)
    if_match = Int64Field(required=False, min_value=1,
                                        help_text="Fail with 409 unless the file is at this version now.")


class PartUrlOut(serializers.Serializer):
    number = Int64Field()
    size = Int64Field()
    url = serializers.URLField(help_text="PUT the part's raw bytes here; the answer carries its ETag. "
                                         "Lives at most five minutes: ask GET /uploads/{id} for fresh ones.")


class UploadOut(serializers.Serializer):
    id = serializers.UUIDField()
    space = Int64Field()
    path = serializers.CharField()
    size = Int64Field()
    state = serializers.CharField()
    part_size = Int64Field()
    part_count = Int64Field()
    received = serializers.ListField(child=Int64Field())
    wrong_size = serializers.ListField(child=Int64Field())
    ambiguous = serializers.ListField(child=Int64Field(),
                                      help_text="Parts stored twice with the right size: complete with their ETags.")
    parts = PartUrlOut(many=True, help_text=f"URLs for parts still missing (at most {URLS_PER_RESPONSE}).")
    expires_at = serializers.DateTimeField()


def _wanted_parts(request) -> list[int] | None:
    raw = request.query_params.get("parts")
    if not raw:
        return None
    try:
        numbers = [int(n) for n in raw.split(",")]
    except ValueError:
        raise InvalidInput(gettext("parts is a comma-separated list of part numbers."), code="invalid_part") from None
    if len(numbers) > URLS_PER_RESPONSE:
        raise InvalidInput(gettext("Ask for at most %(URLS_PER_RESPONSE)s part URLs at a time.") % {"URLS_PER_RESPONSE": URLS_PER_RESPONSE}, code="invalid_part")
    return numbers


def upload_out(session: UploadSession, wanted: list[int] | None = None) -> dict:
    report = uploads.parts_report(session)
    if session.state == UploadState.OPEN:
        numbers = wanted if wanted is not None else report.missing[:URLS_PER_RESPONSE]
        parts = uploads.part_urls(session, numbers)
    else:
        parts = []
    return {"id": session.pk, "space": session.space_id, "path": session.path, "size": session.size,
            "state": session.state, "part_size": session.part_size, "part_count": session.part_count,
            "received": report.received, "wrong_size": report.wrong_size, "ambiguous": report.ambiguous,
            "parts": parts,
            "expires_at": session.expires_at}


class UploadListView(APIView):
    @extend_schema(request=UploadIn, responses={201: UploadOut},
                   summary="Start a resumable upload; PUT each part to its URL, then complete")
    @error_responses(413, 423, 507)
    def post(self, request):
        data = validated(UploadIn, request.data).validated_data
        session = uploads.upload_start(actor=request.user, space_id=data["space"], path=data["path"],
                                       size=data["size"], sha256=data.get("sha256"), if_match=data.get("if_match"))
        return Response(upload_out(session), status=status.HTTP_201_CREATED)


class UploadView(APIView):
    @extend_schema(responses=UploadOut, summary="Which parts arrived, and fresh URLs for the others",
                   parameters=[OpenApiParameter("parts", str, description="Only these parts' URLs, e.g. 3,7")])
    def get(self, request, upload_id):
        session = uploads.access_upload(request.user, upload_id)
        return Response(upload_out(session, _wanted_parts(request)))

    @extend_schema(responses={204: None}, summary="Abort: the parts are removed")
    def delete(self, request, upload_id):
        uploads.upload_abort(actor=request.user, upload_id=upload_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PartEtagIn(serializers.Serializer):
    number = Int64Field(min_value=1)
    etag = TextField()


class CompleteIn(StrictSerializer):
    parts = PartEtagIn(many=True, required=False,
                       help_text="The ETag each part's PUT answered; needed only for parts sent more than once.")


class UploadCompleteView(APIView):
    @extend_schema(request=CompleteIn, responses={201: NodeOut},
                   summary="Create the file version from the parts (idempotent)")
    @error_responses(413, 423, 507)
    def post(self, request, upload_id):
        data = validated(CompleteIn, request.data or {}).validated_data
        done = uploads.upload_finish(actor=request.user, upload_id=upload_id, etags=data.get("parts"))
        if done.path_names is None:  # completed before: described as it is now
            return Response(node_out(done.version.node, viewer=request.user), status=status.HTTP_201_CREATED)
        return Response(node_out(done.version.node, done.path_names, lock=done.lock, scan=done.scan),
                        status=status.HTTP_201_CREATED)
