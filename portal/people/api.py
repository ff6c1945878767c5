from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from portal.api.fields import Int64Field
from portal.core.pagination import PagePagination, paginated_response
from portal.people.selectors import groups_list


class GroupOut(serializers.Serializer):
    id = Int64Field()
    name = serializers.CharField()
    source = serializers.CharField()
    member_count = Int64Field()


class GroupListView(APIView):
    pagination_class = PagePagination

    @extend_schema(responses=GroupOut(many=True),
                   summary="List the groups (to give one a role in a space or share with it)")
    def get(self, request):
        return paginated_response(request, groups_list(), GroupOut, view=self)
