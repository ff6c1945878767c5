from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView
from django.utils.translation import gettext

from portal.accounts import services
from portal.accounts.models import PersonalAccessToken
from portal.accounts.selectors import token_list
from portal.api.fields import Int64Field
from portal.api.serializers import StrictBooleanField, StrictSerializer, TextField, validated
from portal.core.errors import Forbidden
from portal.core.pagination import PagePagination, paginated_response


class TokenOut(serializers.Serializer):
    id = Int64Field()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    active = StrictBooleanField(source="is_active")


class TokenCreatedOut(TokenOut):
    token = serializers.CharField(help_text="The secret; shown only in this response.")


class TokenCreateIn(StrictSerializer):
    name = TextField(allow_blank=True, trim_whitespace=False)
    days = Int64Field(required=False,
                                    help_text=f"Lifetime in days (default {settings.TOKEN_DEFAULT_DAYS}).")


class TokenListView(APIView):
    pagination_class = PagePagination

    @extend_schema(responses=TokenOut(many=True), summary="My personal access tokens")
    def get(self, request):
        return paginated_response(request, token_list(actor=request.user), TokenOut, view=self)

    @extend_schema(request=TokenCreateIn, responses={201: TokenCreatedOut},
                   summary="Create a token (the secret is shown once)")
    def post(self, request):
        if isinstance(request.auth, PersonalAccessToken):
            raise Forbidden(gettext("A token cannot create tokens (a leaked one could mint more). Sign in with your "
                            "password, or ask an administrator to run `manage.py issue_token`."),
                            code="token_cannot_mint")
        data = validated(TokenCreateIn, request.data).provided()
        token, plaintext = services.token_issue(actor=request.user, owner=request.user, **data)
        return Response({**TokenOut(token).data, "token": plaintext}, status=status.HTTP_201_CREATED)


class TokenDetailView(APIView):
    @extend_schema(responses={204: None}, summary="Revoke a token")
    def delete(self, request, token_id):
        services.token_revoke(actor=request.user, token_id=token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
