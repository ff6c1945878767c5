from rest_framework.pagination import PageNumberPagination


class PagePagination(PageNumberPagination):
    """``?page=N&page_size=M``; answers ``{"count", "next", "previous", "results"}``."""

    page_size_query_param = "page_size"
    max_page_size = 1000


def paginated_response(request, queryset, serializer_class, *, view, context=None):
    """One page of ``queryset`` serialized, in the paginated envelope. The paginator is the view's
    ``pagination_class``, the one the OpenAPI schema documents the envelope from."""
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True, context=context or {}).data)
