"""GET /api/v1/search: names, paths and text of every space the caller reads."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from portal.api.fields import Int64Field
from portal.core.pagination import PagePagination, paginated_response
from portal.search.models import FileType
from portal.search.params import filters_from, terms_from
from portal.search.query import Results


class HitOut(serializers.Serializer):
    node = Int64Field(source="node_id")
    space = Int64Field(source="space_id")
    space_name = serializers.CharField()
    kind = serializers.CharField()
    type = serializers.CharField(source="file_type")
    name = serializers.CharField()
    path = serializers.CharField()
    folder = serializers.CharField(source="parent_path")
    size = Int64Field()
    modified_at = serializers.DateTimeField()
    rank = Int64Field(help_text="0 exact name, 1 name prefix, 2 name words, 3 name and path "
                                              "words, 4 text")


_PARAMETERS = [
    OpenApiParameter("q", str, required=True, description="Words (Chinese is segmented); the last one "
                                                          "matches as a prefix"),
    OpenApiParameter("space", int, description="Only this space"),
    OpenApiParameter("type", str, enum=FileType.values, description="Only this kind of file"),
    OpenApiParameter("modified_after", str, description="Date or date-time (ISO 8601), inclusive"),
    OpenApiParameter("modified_before", str, description="Date or date-time (ISO 8601), exclusive"),
    OpenApiParameter("size_min", int, description="Bytes, inclusive"),
    OpenApiParameter("size_max", int, description="Bytes, inclusive"),
    OpenApiParameter("owner", str, description="Username of whoever uploaded the current version"),
    OpenApiParameter("page", int, description="Page number (from 1)"),
    OpenApiParameter("page_size", int, description="Hits per page (at most 1000)"),
]


class SearchView(APIView):
    pagination_class = PagePagination

    @extend_schema(parameters=_PARAMETERS, responses=HitOut(many=True),
                   summary="Find files and folders by name, path and content, best first")
    def get(self, request):
        terms = terms_from(request.query_params, required=True)
        filters = filters_from(request.user, request.query_params)
        return paginated_response(request, Results(request.user, terms, filters), HitOut, view=self)
