"""REST endpoints for share links and the spaces' link policy."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView
from django.utils.translation import gettext

from portal.api.fields import Int64Field
from portal.api.serializers import StrictBooleanField, StrictSerializer, TextField, query_flag, validated
from portal.core.access import Cap
from portal.core.errors import InvalidInput
from portal.core.pagination import PagePagination, paginated_response
from portal.files import names
from portal.files.selectors import locate_node
from portal.shares import policy, services, tokens
from portal.shares.models import GRANT_ROLES, Audience, Permission, ShareLink
from portal.shares.selectors import (access_link, accesses_list, internal_shares_of, link_path_names,
                                     links_visible_to, shared_with_me)
from portal.shares.tokens import link_url
from portal.spaces.selectors import access_space


class ShareOut(serializers.Serializer):
    id = Int64Field()
    node = Int64Field(source="node_id")
    space = Int64Field(source="space_id")
    path = serializers.SerializerMethodField()
    owner = serializers.CharField(source="created_by.username")
    permission = serializers.CharField()
    audience = serializers.CharField()
    emails = serializers.SerializerMethodField()
    has_password = StrictBooleanField()
    expires_at = serializers.DateTimeField(allow_null=True)
    max_downloads = Int64Field(allow_null=True)
    max_previews = Int64Field(allow_null=True)
    download_count = Int64Field()
    preview_count = Int64Field()
    watermark = serializers.CharField()
    notify_on_first_download = StrictBooleanField()
    enabled = StrictBooleanField(source="owner_enabled")
    manager_enabled = StrictBooleanField()
    state = serializers.SerializerMethodField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    token = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    def _token(self, link: ShareLink) -> str | None:
        """Only the owner gets the link back (managers see that it exists)."""
        viewer = self.context.get("viewer")
        if viewer is None or link.created_by_id != viewer.pk or link.revoked_at is not None:
            return None
        return tokens.unseal(link.sealed_token)

    def get_token(self, link) -> str | None:
        return self._token(link)

    def get_url(self, link) -> str | None:
        token = self._token(link)
        return link_url(token) if token else None

    def get_state(self, link) -> str:
        return link.state_at()

    def get_path(self, link) -> str:
        # The path where the view resolved it (one link), else the node's name (lists).
        path_names = self.context.get("path_names")
        return names.join(path_names) if path_names is not None else link.node.name

    def get_emails(self, link) -> list[str]:
        return [r.email for r in link.recipients.all()] if link.audience == Audience.PEOPLE else []


class ShareCreateIn(StrictSerializer):
    node = Int64Field()
    permission = serializers.ChoiceField(choices=Permission.choices)
    audience = serializers.ChoiceField(choices=Audience.choices, required=False)
    emails = serializers.ListField(child=serializers.CharField(), required=False)
    password = TextField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True,
                                           help_text="Omit for the policy's default; null for a permanent link "
                                                     "(only where policy allows).")
    max_downloads = Int64Field(required=False, allow_null=True)
    max_previews = Int64Field(required=False, allow_null=True)
    watermark = TextField(required=False, allow_blank=True)
    notify_on_first_download = StrictBooleanField(required=False)


class ShareUpdateIn(StrictSerializer):
    permission = serializers.ChoiceField(choices=Permission.choices, required=False)
    emails = serializers.ListField(child=serializers.CharField(), required=False)
    password = TextField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    max_downloads = Int64Field(required=False, allow_null=True)
    max_previews = Int64Field(required=False, allow_null=True)
    watermark = TextField(required=False, allow_blank=True)
    notify_on_first_download = StrictBooleanField(required=False)
    enabled = StrictBooleanField(required=False, help_text="The owner's switch.")
    manager_enabled = StrictBooleanField(required=False,
                                         help_text="The switch of space managers and administrators.")


class AccessOut(serializers.Serializer):
    id = Int64Field()
    at = serializers.DateTimeField(source="created_at")
    action = serializers.CharField()
    outcome = serializers.CharField()
    who = serializers.CharField(source="actor_label")
    ip = serializers.CharField(allow_null=True)
    user_agent = serializers.CharField()
    item = serializers.CharField(source="target_label")
    details = serializers.JSONField()


class PolicyOut(serializers.Serializer):
    default_days = Int64Field()
    max_days = Int64Field()
    allow_permanent = StrictBooleanField()
    require_password = StrictBooleanField()
    password_min_length = Int64Field()


class PolicyIn(StrictSerializer):
    default_days = Int64Field(required=False, allow_null=True)
    max_days = Int64Field(required=False, allow_null=True)
    allow_permanent = StrictBooleanField(required=False, allow_null=True)
    require_password = StrictBooleanField(required=False, allow_null=True)


def _out(link: ShareLink, request) -> dict:
    return ShareOut(link, context={"viewer": request.user, "path_names": link_path_names(link)}).data


class ShareListView(APIView):
    pagination_class = PagePagination

    @extend_schema(responses=ShareOut(many=True), summary="Links I own, and all links of spaces I manage",
                   parameters=[OpenApiParameter("space", int, description="Only this space's links"),
                               OpenApiParameter("mine", int, enum=[0, 1], description="Only my own links")])
    def get(self, request):
        space_id = request.query_params.get("space")
        if space_id is not None:
            space_id = access_space(request.user, space_id, Cap.SPACE_VIEW).pk
        mine = query_flag(request.query_params, "mine")
        links = links_visible_to(request.user, space_id=space_id, mine=mine).prefetch_related("recipients")
        return paginated_response(request, links, ShareOut, view=self, context={"viewer": request.user})

    @extend_schema(request=ShareCreateIn, responses={201: ShareOut}, summary="Share a file or folder by link")
    def post(self, request):
        data = validated(ShareCreateIn, request.data).provided()
        node_id = data.pop("node")
        link, _token = services.share_link_create(actor=request.user, node_id=node_id, **data)
        out = _out(link, request)
        if link.sensitivity.labels:  # the sensitive-content policy's answer (warn, approve)
            out["sensitivity"] = link.sensitivity.as_dict()
        return Response(out, status=status.HTTP_201_CREATED)


class ShareDetailView(APIView):
    @extend_schema(responses=ShareOut, summary="A link")
    def get(self, request, link_id):
        return Response(_out(access_link(request.user, link_id), request))

    @extend_schema(request=ShareUpdateIn, responses=ShareOut,
                   summary="Change a link (owner), or switch it off or on (manager)")
    def patch(self, request, link_id):
        changes = validated(ShareUpdateIn, request.data).provided()
        return Response(_out(services.share_link_update(actor=request.user, link_id=link_id, changes=changes),
                             request))

    @extend_schema(responses={204: None}, summary="Revoke a link for good")
    def delete(self, request, link_id):
        services.share_link_revoke(actor=request.user, link_id=link_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ShareAccessListView(APIView):
    pagination_class = PagePagination

    @extend_schema(responses=AccessOut(many=True), summary="A link's access log, newest first")
    def get(self, request, link_id):
        link = access_link(request.user, link_id)
        return paginated_response(request, accesses_list(link), AccessOut, view=self)


class SharePolicyView(APIView):
    @extend_schema(responses=PolicyOut, summary="The link policy that applies in a space")
    def get(self, request, space_id):
        space = access_space(request.user, space_id, Cap.SPACE_VIEW)
        return Response(policy.policy_for(space).as_dict())

    @extend_schema(request=PolicyIn, responses=PolicyOut,
                   summary="Tighten the space's link policy (managers; null falls back to the deployment's)")
    def patch(self, request, space_id):
        changes = validated(PolicyIn, request.data).provided()
        if not changes:
            raise InvalidInput(gettext("Nothing to change."), code="no_changes")
        own = services.space_share_policy_update(actor=request.user, space_id=space_id, changes=changes)
        return Response(policy.policy_for(own.space).as_dict())


# --- internal shares (a file or folder given to a colleague or a group) -------------------

class InternalShareOut(serializers.Serializer):
    id = Int64Field()
    node = Int64Field(source="node_id")
    name = serializers.CharField(source="node.name")
    user = serializers.CharField(source="user.username", allow_null=True, default=None)
    group = serializers.CharField(source="group.name", allow_null=True, default=None)
    group_id = Int64Field(allow_null=True)
    role = serializers.ChoiceField(choices=GRANT_ROLES)
    expires_at = serializers.DateTimeField(allow_null=True)
    created_by = serializers.CharField(source="created_by.username")
    created_at = serializers.DateTimeField()


class InternalShareIn(StrictSerializer):
    user = TextField(required=False, help_text="A colleague's username (or give group).")
    group = Int64Field(required=False, help_text="A group's id (or give user).")
    role = serializers.ChoiceField(choices=GRANT_ROLES)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Omit or null: no expiry.")


class InternalShareChangeIn(StrictSerializer):
    role = serializers.ChoiceField(choices=GRANT_ROLES, required=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class NodeInternalShareListView(APIView):
    pagination_class = PagePagination

    @extend_schema(responses=InternalShareOut(many=True),
                   summary="Who a file or folder is shared with (people and groups)")
    def get(self, request, node_id):
        node = locate_node(request.user, node_id, Cap.SHARE_CREATE).node
        return paginated_response(request, internal_shares_of(node), InternalShareOut, view=self)

    @extend_schema(request=InternalShareIn, responses={201: InternalShareOut},
                   summary="Share a file or folder with a colleague or a group (viewer or editor)")
    def post(self, request, node_id):
        data = validated(InternalShareIn, request.data).provided()
        share = services.internal_share_create(actor=request.user, node_id=node_id, **data)
        return Response(InternalShareOut(share).data, status=status.HTTP_201_CREATED)


class ReceivedShareOut(InternalShareOut):
    space = Int64Field(source="space_id")
    is_folder = StrictBooleanField(source="node.is_folder")


class InternalShareListView(APIView):
    pagination_class = PagePagination

    @extend_schema(responses=ReceivedShareOut(many=True),
                   summary="What colleagues shared with me (directly or through my groups), newest first")
    def get(self, request):
        return paginated_response(request, shared_with_me(request.user), ReceivedShareOut, view=self)


class InternalShareDetailView(APIView):
    @extend_schema(request=InternalShareChangeIn, responses=InternalShareOut,
                   summary="Change the role or the expiry of a share (its sharer, a space manager)")
    def patch(self, request, share_id):
        data = validated(InternalShareChangeIn, request.data).provided()
        return Response(InternalShareOut(services.internal_share_change(actor=request.user, share_id=share_id,
                                                                        **data)).data)

    @extend_schema(responses={204: None}, summary="Stop sharing (at once)")
    def delete(self, request, share_id):
        services.internal_share_revoke(actor=request.user, share_id=share_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
