"""REST view of a file's lock: take it, refresh it, release or break it."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView
from django.utils.translation import gettext

from portal.api.fields import Int64Field
from portal.api.schema import error_responses
from portal.api.serializers import StrictSerializer, TextField, query_flag, validated
from portal.core.access import Cap
from portal.spaces.selectors import can
from portal.core.errors import Conflict, Forbidden, InvalidInput
from portal.files.models import NodeKind
from portal.files.selectors import locate_node
from portal.locks import selectors, services
from portal.locks.models import LockKind


class LockOut(serializers.Serializer):
    """Documentation of ``selectors.lock_info``'s shape."""

    id = Int64Field()
    node = Int64Field()
    owner = serializers.CharField()
    owner_name = serializers.CharField()
    since = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    kind = serializers.CharField(help_text="manual (portal, API), editor (WebDAV) or agent.")
    client = serializers.CharField()
    note = serializers.CharField()
    scope = serializers.CharField()
    depth = serializers.CharField()
    token = serializers.CharField(required=False, help_text="Only for the lock's owner.")


class LockIn(StrictSerializer):
    timeout = Int64Field(
        required=False, min_value=1,
        help_text=f"Seconds (default and maximum {settings.LOCK_MANUAL_MAX_SECONDS}; longer asks are capped).")
    note = TextField(required=False, allow_blank=True, max_length=services.NOTE_MAX)
    client = TextField(required=False, allow_blank=True, max_length=services.CLIENT_MAX,
                       help_text="What holds the lock (default: the request's User-Agent).")


class LockRefreshIn(StrictSerializer):
    token = TextField()
    timeout = Int64Field(required=False, min_value=1)


class LockReleaseIn(StrictSerializer):
    token = TextField(required=False)


def _file(request, node_id, cap: Cap = Cap.FILE_READ):
    node = locate_node(request.user, node_id, cap).node
    if node.kind != NodeKind.FILE:
        raise InvalidInput(gettext("Only files can be locked here (WebDAV clients can lock folders)."), code="not_a_file")
    return node


class LockView(APIView):
    @extend_schema(request=LockIn, responses={201: LockOut}, summary="Lock a file (409 if someone holds it)")
    @error_responses(423)
    def post(self, request, node_id):
        data = validated(LockIn, request.data).validated_data
        node = _file(request, node_id, Cap.FILE_WRITE)
        client = data.get("client", request.headers.get("User-Agent", ""))[:services.CLIENT_MAX]
        lock = services.lock_acquire(actor=request.user, node=node, kind=LockKind.MANUAL,
                                     timeout=data.get("timeout"), note=data.get("note", ""), client=client)
        return Response(selectors.lock_info(lock, request.user), status=status.HTTP_201_CREATED)

    @extend_schema(request=LockRefreshIn, responses=LockOut,
                   summary="Refresh my lock (412 for a token that is not live on this file)")
    @error_responses(412)
    def patch(self, request, node_id):
        data = validated(LockRefreshIn, request.data).validated_data
        node = _file(request, node_id)
        lock = services.lock_refresh(actor=request.user, token=data["token"], timeout=data.get("timeout"),
                                     node=node)
        return Response(selectors.lock_info(lock, request.user))

    @extend_schema(request=LockReleaseIn, responses={204: None},
                   parameters=[OpenApiParameter("force", bool, description="Break someone else's lock "
                                                "(space managers and owners, administrators)")],
                   summary="Release my lock, or break another's with ?force=1")
    def delete(self, request, node_id):
        data = validated(LockReleaseIn, request.data or {}).validated_data
        force = query_flag(request.query_params, "force")
        node = _file(request, node_id, Cap.LOCK_BREAK if force else Cap.FILE_READ)
        if force:
            for lock in _breakable(node, data.get("token")):
                services.lock_break(actor=request.user, lock_id=lock.pk)
        else:
            services.lock_release(actor=request.user, token=_own_token(request, node, data.get("token")),
                                  node=node)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _own_token(request, node, token: str | None) -> str:
    """The token to release: the one given, else that of the caller's own lock
    on the file (a manual lock's owner need not keep its token)."""
    if token:
        return token
    own = selectors.own_locks_on(node, request.user)
    if own:
        return own[0].token
    held = [lock for lock in selectors.live_locks_for(node) if lock.node_id == node.pk]
    if not held:
        raise Conflict(gettext("This file is not locked."), code="not_locked")
    holder = held[0].owner.get_username()
    hint = " add ?force=1 to break it." if can(request.user, Cap.LOCK_BREAK, node.space) else \
        " ask them, a space manager or an administrator."
    raise Forbidden(gettext("The lock on this file is %(holder)s's;%(hint)s") % {"holder": holder, "hint": hint}, code="not_lock_owner",
                    detail={"holder": selectors.lock_info(held[0])})


def _breakable(node, token: str | None) -> list:
    """The live locks on the file itself (or the one with ``token``)."""
    held = [lock for lock in selectors.live_locks_for(node) if lock.node_id == node.pk
            and (not token or lock.token == token)]
    if not held:
        raise Conflict(gettext("This file is not locked with that token.") if token else gettext("This file is not locked."),
                       code="not_locked")
    return held
