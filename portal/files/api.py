"""REST views of the file tree, versions and trash (uploads in upload_api,
downloads in download_api). Each view: validate, one access-checked call,
serialize."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView
from django.utils.translation import gettext

from portal.api.fields import Int64Field
from portal.api.schema import error_responses
from portal.api.serializers import StrictBooleanField, StrictSerializer, TextField, validated
from portal.core.access import Cap
from portal.core.errors import InvalidInput
from portal.core.pagination import KeyPagePagination, PagePagination
from portal.files import names, selectors
from portal.files.models import Node
from portal.files.selectors import Located
from portal.files.services import tree, versions
from portal.locks import selectors as lock_selectors
from portal.scanning import selectors as scan_selectors
from portal.spaces.selectors import access_space


class NodeOut(serializers.Serializer):
    """Documentation of the node shape that ``node_out`` produces."""

    id = Int64Field()
    space = Int64Field()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["folder", "file"])
    path = serializers.CharField()
    size = Int64Field()
    version = Int64Field(allow_null=True)
    sha256 = serializers.CharField(allow_null=True)
    modified = serializers.DateTimeField()
    created = serializers.DateTimeField()
    lock = serializers.JSONField(allow_null=True)
    scan = serializers.JSONField(allow_null=True, help_text='{"state", "signature", "quarantined"} or null')


# node_out looks the lock and scan up itself only when the caller has not.
LOOK_UP = object()


def node_out(node: Node, path_names=None, *, lock=LOOK_UP, scan=LOOK_UP, viewer=None) -> dict:
    """A node's metadata. A listing passes ``lock`` and ``scan`` from one
    lookup for the whole page (locks.selectors.lock_summaries,
    scanning.selectors.scan_summaries); left out, they are looked up for this
    node alone (one query each, the lock's token shown to ``viewer`` only if
    they own it), and so is ``path_names`` (one query) when the caller does
    not know it. ``node`` comes with ``current_version`` and its blob."""
    if path_names is None:
        path_names = selectors.path_names_of(node)
    if lock is LOOK_UP:
        lock = lock_selectors.lock_summary(node, viewer=viewer)
    if scan is LOOK_UP:
        scan = scan_selectors.scan_summary(node)
    version = node.current_version
    return {
        "id": node.id,
        "space": node.space_id,
        "name": node.name,
        "kind": node.kind,
        "path": names.join(list(path_names)),
        "size": node.size,
        "version": version.number if version else None,
        "sha256": version.blob.sha256 if version else None,
        "modified": node.modified_at,
        "created": node.created_at,
        "lock": lock,
        "scan": scan,
    }


def located_out(located: Located, *, viewer) -> dict:
    """The metadata of a node one request located (its lock and scan looked up)."""
    return node_out(located.node, located.path_names, viewer=viewer)


def changed_out(located: Located) -> dict:
    """The metadata of a node a tree service just changed or made (its path as the service left it)."""
    return node_out(located.node, located.path_names)


class FolderCreateIn(StrictSerializer):
    path = TextField(allow_blank=True, trim_whitespace=False)


class DestinationIn(StrictSerializer):
    path = TextField(allow_blank=True, trim_whitespace=False, help_text="The item's full new path, ending with its name.")
    space = Int64Field(required=False, help_text="Destination space (default: the same).")


class RenameIn(StrictSerializer):
    name = TextField(allow_blank=True, trim_whitespace=False)


class RestoreIn(StrictSerializer):
    path = TextField(required=False, trim_whitespace=False, help_text="Where to restore (default: where it was).")


class FolderListView(APIView):
    @extend_schema(request=FolderCreateIn, responses={201: NodeOut, 200: NodeOut},
                   summary="Create a folder and its missing parents (200 if it already existed)")
    @error_responses(423)
    def post(self, request, space_id):
        data = validated(FolderCreateIn, request.data).validated_data
        folder, created = tree.folder_create(actor=request.user, space_id=space_id, path=data["path"])
        return Response(changed_out(folder), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _listing(request, located: Located, paginator) -> Response:
    """A page of a folder's entries; their locks and scans are looked up once
    for the page (with the folder's own), so the queries do not grow with it."""
    sort = request.query_params.get("sort", "name")
    order = request.query_params.get("order", "asc")
    if order not in {"asc", "desc"}:
        raise InvalidInput(gettext("order is 'asc' or 'desc'."), code="invalid_order")
    folder, path = located.node, list(located.path_names)
    children = selectors.children_list(folder, sort=sort, descending=order == "desc")
    page = paginator.paginate_queryset(children, request)
    locks = lock_selectors.lock_summaries(page, viewer=request.user, folder=folder)
    scans = scan_selectors.scan_summaries([*page, folder])
    results = [node_out(child, path + [child.name], lock=locks[child.pk], scan=scans[child.pk]) for child in page]
    response = paginator.get_paginated_response(results)
    folder_out = node_out(folder, path, lock=locks[folder.pk], scan=scans[folder.pk])
    response.data = {"folder": folder_out, **response.data}
    return response


class FolderListingOut(serializers.Serializer):
    """A page of a folder's entries (the pagination envelope) with the folder's own metadata."""

    folder = NodeOut()
    count = Int64Field()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = NodeOut(many=True)


class TreeView(APIView):
    pagination_class = KeyPagePagination  # a folder of 10,000 entries: its last page costs what its first does

    @extend_schema(responses=PolymorphicProxySerializer("TreeAnswer", [FolderListingOut, NodeOut], None),
                   summary="A folder's listing (paginated, folders first) or a file's metadata",
                   parameters=[OpenApiParameter("sort", enum=list(selectors.SORTS)),
                               OpenApiParameter("order", enum=["asc", "desc"]),
                               OpenApiParameter("page", int, description="A folder's page (from 1)"),
                               OpenApiParameter("page_size", int, description="Entries per page (at most 1000)")])
    def get(self, request, space_id, path=""):
        located = selectors.locate_path(request.user, space_id, path or "/")
        if located.node.is_folder:
            return _listing(request, located, self.pagination_class())
        return Response(located_out(located, viewer=request.user))


class NodeView(APIView):
    @extend_schema(responses=NodeOut, summary="A file's or folder's metadata by id")
    def get(self, request, node_id):
        return Response(located_out(selectors.locate_node(request.user, node_id), viewer=request.user))

    @extend_schema(request=RenameIn, responses=NodeOut, summary="Rename")
    @error_responses(423)
    def patch(self, request, node_id):
        data = validated(RenameIn, request.data).validated_data
        return Response(changed_out(tree.node_rename(actor=request.user, node_id=node_id, name=data["name"])))

    @extend_schema(responses={200: NodeOut}, summary="Move to the trash")
    @error_responses(423)
    def delete(self, request, node_id):
        node = tree.node_trash(actor=request.user, node_id=node_id)
        return Response(changed_out(node))


class NodeMoveView(APIView):
    @extend_schema(request=DestinationIn, responses=NodeOut, summary="Move (and rename), within or across spaces")
    @error_responses(423, 507)
    def post(self, request, node_id):
        data = validated(DestinationIn, request.data).validated_data
        node = tree.node_move(actor=request.user, node_id=node_id, path=data["path"], space_id=data.get("space"))
        return Response(changed_out(node))


class NodeCopyView(APIView):
    @extend_schema(request=DestinationIn, responses={201: NodeOut}, summary="Copy (current versions)")
    @error_responses(413, 507)
    def post(self, request, node_id):
        data = validated(DestinationIn, request.data).validated_data
        node = tree.node_copy(actor=request.user, node_id=node_id, path=data["path"], space_id=data.get("space"))
        return Response(changed_out(node), status=status.HTTP_201_CREATED)


class VersionOut(serializers.Serializer):
    number = Int64Field()
    size = Int64Field()
    sha256 = serializers.CharField(source="blob.sha256", allow_null=True)
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    restored_from = Int64Field(allow_null=True)
    current = serializers.SerializerMethodField()
    coauthors = serializers.SerializerMethodField(help_text="usernames of everyone whose co-editing this version "
                                                            "holds (empty for an upload)")

    def get_current(self, version) -> bool:
        return version.pk == version.node.current_version_id

    def get_coauthors(self, version) -> list[str]:
        return [user.username for user in version.coauthors.all()]


class VersionListView(APIView):
    pagination_class = PagePagination

    @extend_schema(responses=VersionOut(many=True), summary="A file's versions, newest first")
    def get(self, request, node_id):
        node = versions.locate_file(request.user, node_id).node
        queryset = (node.versions.select_related("blob", "created_by", "node").prefetch_related("coauthors")
                    .order_by("-number"))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request)
        return paginator.get_paginated_response(VersionOut(page, many=True).data)


class VersionRestoreView(APIView):
    @extend_schema(request=None, responses={201: VersionOut}, summary="Make an old version current (as a new one)")
    @error_responses(423, 507)
    def post(self, request, node_id, number):
        version = versions.version_restore(actor=request.user, node_id=node_id, number=number)
        return Response(VersionOut(version).data, status=status.HTTP_201_CREATED)


class TrashOut(NodeOut):
    trashed_at = serializers.DateTimeField()
    trashed_by = serializers.CharField(allow_null=True)


class TrashListView(APIView):
    pagination_class = PagePagination

    @extend_schema(responses=TrashOut(many=True), summary="What was deleted in a space, newest first")
    def get(self, request, space_id):
        space = access_space(request.user, space_id, Cap.FILE_READ)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.trash_list(space), request)
        locks = lock_selectors.lock_summaries(page, viewer=request.user)
        scans = scan_selectors.scan_summaries(page)
        where = selectors.original_paths(page)
        return paginator.get_paginated_response([
            {**node_out(node, where[node.pk], lock=locks[node.pk], scan=scans[node.pk]),
             "trashed_at": node.trashed_at,
             "trashed_by": node.trashed_by.username if node.trashed_by else None} for node in page])


class PurgedOut(serializers.Serializer):
    purged = StrictBooleanField()
    freed_bytes = Int64Field(help_text="Bytes of quota the purge gave back")


class TrashItemView(APIView):
    @extend_schema(responses={200: PurgedOut}, summary="Purge for good (managers and owners)")
    @error_responses(423)
    def delete(self, request, node_id):
        freed = tree.trash_purge(actor=request.user, node_id=node_id)
        return Response({"purged": True, "freed_bytes": freed})


class TrashRestoreView(APIView):
    @extend_schema(request=RestoreIn, responses=NodeOut, summary="Restore to where it was, or to a path")
    @error_responses(507)
    def post(self, request, node_id):
        data = validated(RestoreIn, request.data).validated_data
        node = tree.trash_restore(actor=request.user, node_id=node_id, path=data.get("path"))
        return Response(changed_out(node))
