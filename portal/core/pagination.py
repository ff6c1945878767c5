from rest_framework.pagination import PageNumberPagination


class PagePagination(PageNumberPagination):
    """``?page=N&page_size=M``; answers ``{"count", "next", "previous", "results"}``."""

    page_size_query_param = "page_size"
    max_page_size = 1000


def paginated_response(request, queryset, serializer_class, *, view=None, context=None):
    """One page of ``queryset`` serialized, in the paginated envelope."""
    paginator = PagePagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True, context=context or {}).data)
