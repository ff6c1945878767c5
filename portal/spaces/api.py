from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.fields import Int64Field
from portal.api.serializers import StrictBooleanField, StrictSerializer, TextField, query_flag, validated
from portal.core.access import Cap, Role
from portal.core.pagination import PagePagination, paginated_response
from portal.spaces import services
from portal.spaces.models import MAX_KEEP_VERSION_DAYS, MAX_KEEP_VERSIONS
from portal.spaces.selectors import access_space, members_list, space_groups_list, spaces_visible_to


class SpaceOut(serializers.Serializer):
    id = Int64Field()
    name = serializers.CharField()
    slug = serializers.CharField(help_text="URL name of the space: WebDAV mounts it at /dav/<slug>/")
    kind = serializers.CharField()
    role = serializers.CharField(source="actor_role", allow_null=True)
    quota = Int64Field(source="quota_bytes")
    used = Int64Field(source="used_bytes")
    archived = StrictBooleanField(source="is_archived")
    keep_versions = Int64Field(allow_null=True, help_text="Versions kept per file (null: default)")
    keep_version_days = Int64Field(allow_null=True, help_text="Days versions are kept (null: default)")
    created_at = serializers.DateTimeField()


class SpaceCreateIn(StrictSerializer):
    name = TextField(allow_blank=True, trim_whitespace=False)
    quota = Int64Field(required=False, min_value=0, max_value=services.MAX_QUOTA)


class SpaceUpdateIn(StrictSerializer):
    name = TextField(required=False, allow_blank=True, trim_whitespace=False)
    archived = StrictBooleanField(required=False)
    quota = Int64Field(required=False, min_value=0, max_value=services.MAX_QUOTA)
    keep_versions = Int64Field(required=False, allow_null=True, min_value=1,
                                             max_value=MAX_KEEP_VERSIONS)
    keep_version_days = Int64Field(required=False, allow_null=True, min_value=0,
                                                 max_value=MAX_KEEP_VERSION_DAYS)


class MemberOut(serializers.Serializer):
    user_id = Int64Field()
    username = serializers.CharField(source="user.username")
    role = TextField()
    since = serializers.DateTimeField(source="created_at")


class MemberAddIn(StrictSerializer):
    username = TextField(allow_blank=True)
    role = TextField()


class MemberRoleIn(StrictSerializer):
    role = TextField()


def _space_out(space) -> dict:
    """A space as the services return it: read with the caller's role (``actor_role``) in the same query."""
    return SpaceOut(space).data


class SpaceListView(APIView):
    pagination_class = PagePagination

    @extend_schema(responses=SpaceOut(many=True), summary="List my spaces (?include_archived=1 for archived too)")
    def get(self, request):
        include_archived = query_flag(request.query_params, "include_archived")
        spaces = spaces_visible_to(request.user, include_archived=include_archived)
        return paginated_response(request, spaces, SpaceOut, view=self)

    @extend_schema(request=SpaceCreateIn, responses={201: SpaceOut}, summary="Create a team space")
    def post(self, request):
        data = validated(SpaceCreateIn, request.data).provided()
        space = services.space_create(actor=request.user, **data)
        return Response(_space_out(access_space(request.user, space.pk)), status=status.HTTP_201_CREATED)


class SpaceDetailView(APIView):
    @extend_schema(responses=SpaceOut)
    def get(self, request, space_id):
        return Response(SpaceOut(access_space(request.user, space_id)).data)

    @extend_schema(request=SpaceUpdateIn, responses=SpaceOut,
                   summary="Rename and set version retention (managers), archive (owners), set quota (administrators)")
    def patch(self, request, space_id):
        data = validated(SpaceUpdateIn, request.data).provided()
        space = services.space_update(actor=request.user, space_id=space_id, **data)
        return Response(_space_out(space))


class MemberListView(APIView):
    pagination_class = PagePagination

    @extend_schema(responses=MemberOut(many=True))
    def get(self, request, space_id):
        space = access_space(request.user, space_id, Cap.MEMBER_LIST)
        return paginated_response(request, members_list(space), MemberOut, view=self)

    @extend_schema(request=MemberAddIn, responses={201: MemberOut},
                   summary=f"Add a member with a role ({', '.join(Role.values)})")
    def post(self, request, space_id):
        data = validated(MemberAddIn, request.data).validated_data
        membership = services.member_add(actor=request.user, space_id=space_id, **data)
        return Response(MemberOut(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailView(APIView):
    @extend_schema(request=MemberRoleIn, responses=MemberOut, summary="Change a member's role")
    def patch(self, request, space_id, user_id):
        data = validated(MemberRoleIn, request.data).validated_data
        membership = services.member_change_role(actor=request.user, space_id=space_id, user_id=user_id, **data)
        return Response(MemberOut(membership).data)

    @extend_schema(responses={204: None}, summary="Remove a member, or leave (your own user id)")
    def delete(self, request, space_id, user_id):
        services.member_remove(actor=request.user, space_id=space_id, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SpaceGroupOut(serializers.Serializer):
    group_id = Int64Field()
    name = serializers.CharField(source="group.name")
    role = TextField()
    since = serializers.DateTimeField(source="created_at")


class SpaceGroupAddIn(StrictSerializer):
    group_id = Int64Field()
    role = TextField()


class SpaceGroupListView(APIView):
    pagination_class = PagePagination

    @extend_schema(responses=SpaceGroupOut(many=True), summary="List the groups that hold a role in the space")
    def get(self, request, space_id):
        space = access_space(request.user, space_id, Cap.MEMBER_LIST)
        return paginated_response(request, space_groups_list(space), SpaceGroupOut, view=self)

    @extend_schema(request=SpaceGroupAddIn, responses={201: SpaceGroupOut},
                   summary="Give a group a role in the space: each of its members has at least that role")
    def post(self, request, space_id):
        data = validated(SpaceGroupAddIn, request.data).validated_data
        grant = services.space_group_add(actor=request.user, space_id=space_id, **data)
        return Response(SpaceGroupOut(grant).data, status=status.HTTP_201_CREATED)


class SpaceGroupDetailView(APIView):
    @extend_schema(request=MemberRoleIn, responses=SpaceGroupOut, summary="Change a group's role in the space")
    def patch(self, request, space_id, group_id):
        data = validated(MemberRoleIn, request.data).validated_data
        grant = services.space_group_role_set(actor=request.user, space_id=space_id, group_id=group_id, **data)
        return Response(SpaceGroupOut(grant).data)

    @extend_schema(responses={204: None}, summary="Take a group out of the space (its members keep their own roles)")
    def delete(self, request, space_id, group_id):
        services.space_group_remove(actor=request.user, space_id=space_id, group_id=group_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
