"""REST views of restores to a point in time (portal.files.services.point_in_time):
preview, apply, and a run's progress. Managers and owners of the space, and administrators."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.fields import Int64Field
from portal.api.schema import error_responses
from portal.api.serializers import StrictBooleanField, StrictSerializer, TextField, validated
from portal.files.models import RestoreState
from portal.files.services import point_in_time


class PointIn(StrictSerializer):
    at = TextField(help_text="T, ISO 8601 (2026-03-01T09:30:00+08:00; without an offset, the caller's time zone)")
    path = TextField(required=False, allow_blank=True, help_text="A folder to restore instead of the whole space")
    folder = Int64Field(required=False, min_value=1, help_text="The folder's id (instead of path)")


class ChangeOut(serializers.Serializer):
    kind = serializers.CharField(help_text="trash (made after T), untrash (back from the trash), place (renamed or "
                                           "moved back), content (T's version as a new one)")
    node = Int64Field()
    folder = StrictBooleanField()
    path = serializers.CharField(help_text="Where it is now (in the trash: where it was)")
    to = serializers.CharField(required=False, help_text="Where it goes back to")
    collision = StrictBooleanField(required=False, help_text="Its name at T is taken: it gets \"name (2)\"")
    version = Int64Field(required=False, help_text="The version current at T, made current again")
    size = Int64Field(required=False)
    skipped = serializers.CharField(required=False, help_text="locked, moved_in, moved_out, no_version")


class PlanOut(serializers.Serializer):
    space = Int64Field()
    folder = Int64Field()
    folder_path = serializers.CharField()
    at = serializers.DateTimeField()
    counts = serializers.DictField(child=Int64Field(),
                                   help_text="trash, untrash, place, content, collisions, skipped, locked")
    bytes_needed = Int64Field(help_text="Quota the restored versions take (they reuse stored bytes)")
    changes = ChangeOut(many=True)
    skipped = ChangeOut(many=True)
    truncated = StrictBooleanField(help_text="More changes than listed (the counts are complete)")


class RunOut(serializers.Serializer):
    id = Int64Field()
    space = Int64Field()
    folder = Int64Field()
    at = serializers.DateTimeField()
    state = serializers.ChoiceField(choices=RestoreState.values)
    total = Int64Field()
    done = Int64Field()
    counts = serializers.DictField(child=Int64Field())
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


def _args(request, space_id) -> dict:
    data = validated(PointIn, request.data).validated_data
    return {"actor": request.user, "space_id": space_id, "at": data["at"], "folder_id": data.get("folder"),
            "path": data.get("path")}


class PreviewView(APIView):
    @extend_schema(request=PointIn, responses=PlanOut,
                   summary="What restoring the space (or a folder) to time T would change; changes nothing")
    @error_responses(413)
    def post(self, request, space_id):
        plan = point_in_time.point_restore_preview(**_args(request, space_id))
        return Response(point_in_time.plan_out(plan))


class ApplyView(APIView):
    @extend_schema(request=PointIn, responses={200: RunOut, 202: RunOut},
                   summary="Restore the space (or a folder) to time T, as new versions; 202 while a task applies it")
    @error_responses(413, 423, 507)
    def post(self, request, space_id):
        run = point_in_time.point_restore_start(**_args(request, space_id))
        done = run.state in (RestoreState.DONE, RestoreState.FAILED)
        return Response(point_in_time.run_out(run), status=status.HTTP_200_OK if done else status.HTTP_202_ACCEPTED)


class RunView(APIView):
    @extend_schema(responses=RunOut, summary="A restore's progress and counts")
    def get(self, request, run_id):
        return Response(point_in_time.run_out(point_in_time.point_restore_get(request.user, run_id)))
