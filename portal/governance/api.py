"""REST API for legal holds and retention policies (administrators only).

GET/POST /api/v1/governance/holds, POST /api/v1/governance/holds/<id>/release,
GET/PUT /api/v1/governance/retention (PUT sets one space's or folder's policy),
DELETE /api/v1/governance/retention/<id>."""

from __future__ import annotations

from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.fields import Int64Field
from portal.api.serializers import StrictBooleanField, StrictSerializer, TextField, validated
from portal.core.access import is_admin
from portal.core.errors import Forbidden, InvalidInput
from portal.core.pagination import PagePagination, paginated_response
from portal.governance import selectors, services
from portal.governance.models import MAX_RETENTION_DAYS, EndAction, HoldKind


def _require_admin(request) -> None:
    if not is_admin(request.user):
        raise Forbidden(gettext("Only administrators manage legal holds and retention."), code="admin_only")


class LegalHoldOut(serializers.Serializer):
    id = Int64Field()
    kind = serializers.ChoiceField(choices=HoldKind.choices)
    user_id = Int64Field(allow_null=True)
    space_id = Int64Field(allow_null=True)
    node_id = Int64Field(allow_null=True)
    target = serializers.CharField(source="target_label")
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    active = StrictBooleanField(source="is_active")
    released_at = serializers.DateTimeField(allow_null=True)
    released_by = serializers.CharField(source="released_by.username", allow_null=True, default=None)
    release_reason = serializers.CharField()
    store_flag = serializers.CharField(help_text="S3 Object Lock legal-hold flags on the store (best effort): "
                                                 "pending, unsupported, flagged:N, cleared:N or failed:N")


class LegalHoldIn(StrictSerializer):
    kind = TextField(help_text="user, space or folder (a folder or a file: its node id)")
    target = Int64Field(help_text="The user's, space's or node's id")
    reason = TextField(allow_blank=True, help_text="Why; kept in the audit log")


class LegalHoldReleaseIn(StrictSerializer):
    reason = TextField(allow_blank=True)


class RetentionPolicyOut(serializers.Serializer):
    id = Int64Field()
    space_id = Int64Field()
    space = serializers.CharField(source="space.name")
    node_id = Int64Field(allow_null=True, help_text="The folder's id; null: the whole space")
    days = Int64Field()
    end_action = serializers.ChoiceField(choices=EndAction.choices)
    updated_at = serializers.DateTimeField()


class RetentionPolicyIn(StrictSerializer):
    space = Int64Field()
    folder = Int64Field(required=False, allow_null=True, help_text="A folder's id; absent: the space")
    days = Int64Field(min_value=1, max_value=MAX_RETENTION_DAYS)
    end_action = TextField(required=False, default=EndAction.NONE, help_text="none, delete or review")


_ACTIVE = OpenApiParameter("active", str, description="true: active holds only; false: released ones only")


class HoldListView(APIView):
    pagination_class = PagePagination

    @extend_schema(parameters=[_ACTIVE], responses=LegalHoldOut(many=True), summary="Legal holds, newest first")
    def get(self, request):
        _require_admin(request)
        flag = request.query_params.get("active")
        if flag not in (None, "true", "false"):
            raise InvalidInput(gettext("active is true or false."), detail={"field": "active"})
        active = None if flag is None else flag == "true"
        return paginated_response(request, selectors.hold_list(active=active), LegalHoldOut, view=self)

    @extend_schema(request=LegalHoldIn, responses={201: LegalHoldOut}, summary="Put a user, space or folder under a legal hold")
    def post(self, request):
        _require_admin(request)
        data = validated(LegalHoldIn, request.data).validated_data
        hold = services.hold_create(actor=request.user, kind=data["kind"], target_id=data["target"],
                                    reason=data["reason"])
        return Response(LegalHoldOut(hold).data, status=status.HTTP_201_CREATED)


class HoldReleaseView(APIView):
    @extend_schema(request=LegalHoldReleaseIn, responses=LegalHoldOut, summary="Release an active legal hold")
    def post(self, request, hold_id):
        _require_admin(request)
        data = validated(LegalHoldReleaseIn, request.data).validated_data
        hold = services.hold_release(actor=request.user, hold_id=hold_id, reason=data["reason"])
        return Response(LegalHoldOut(hold).data)


class RetentionListView(APIView):
    pagination_class = PagePagination

    @extend_schema(responses=RetentionPolicyOut(many=True), summary="Retention policies by space and folder")
    def get(self, request):
        _require_admin(request)
        return paginated_response(request, selectors.retention_list(), RetentionPolicyOut, view=self)

    @extend_schema(request=RetentionPolicyIn, responses=RetentionPolicyOut,
                   summary="Set a space's or a folder's retention (keep every version at least N days)")
    def put(self, request):
        _require_admin(request)
        data = validated(RetentionPolicyIn, request.data).validated_data
        policy = services.retention_set(actor=request.user, space_id=data["space"], node_id=data.get("folder"),
                                        days=data["days"], end_action=data["end_action"])
        return Response(RetentionPolicyOut(policy).data)


class RetentionDetailView(APIView):
    @extend_schema(responses={204: None}, summary="Clear a retention policy")
    def delete(self, request, policy_id):
        _require_admin(request)
        services.retention_clear(actor=request.user, policy_id=policy_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
