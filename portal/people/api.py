from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from portal.core.pagination import paginated_response
from portal.people.selectors import groups_list


class GroupOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    source = serializers.CharField()
    member_count = serializers.IntegerField()


class GroupListView(APIView):
    @extend_schema(responses=GroupOut(many=True),
                   summary="List the groups (to give one a role in a space or share with it)")
    def get(self, request):
        return paginated_response(request, groups_list(), GroupOut, view=self)
