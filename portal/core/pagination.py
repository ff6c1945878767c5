from django.core.paginator import Paginator
from rest_framework.pagination import PageNumberPagination


class KeyPaginator(Paginator):
    """Django's paginator, paging a queryset by its primary keys first: the
    count and the page's slice (its OFFSET included) select only the keys,
    which an index in the queryset's order answers without reading the table
    (index-only), and the page's rows are loaded, with their joins and
    annotations, by those keys (a subquery: the same one query per page). A
    deep page of a big folder costs what the first one costs instead of
    joining every row it skips."""

    def __init__(self, object_list, per_page, **kwargs):
        self.rows = object_list
        super().__init__(object_list.values_list("pk", flat=True), per_page, **kwargs)

    def _get_page(self, keys, number, paginator):
        return super()._get_page(list(self.rows.filter(pk__in=keys)), number, paginator)


class PagePagination(PageNumberPagination):
    """``?page=N&page_size=M``; answers ``{"count", "next", "previous", "results"}``."""

    page_size_query_param = "page_size"
    max_page_size = 1000


class KeyPagePagination(PagePagination):
    """The same pages and envelope, paged by keys first (KeyPaginator): for
    the big lists (a folder's entries) whose order an index holds."""

    django_paginator_class = KeyPaginator


def paginated_response(request, queryset, serializer_class, *, view, context=None):
    """One page of ``queryset`` serialized, in the paginated envelope. The paginator is the view's
    ``pagination_class``, the one the OpenAPI schema documents the envelope from."""
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True, context=context or {}).data)
