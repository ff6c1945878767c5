from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models.expressions import RawSQL
from rest_framework.pagination import PageNumberPagination

# The page number up to which a page's rows are asked for before the count (its OFFSET fits any database).
_COUNTED_WITH_ROWS_UP_TO = 1_000_000


class KeyPaginator(Paginator):
    """Django's paginator, paging a queryset by its primary keys first: the
    count and the page's slice (its OFFSET included) select only the keys,
    which an index in the queryset's order answers without reading the table
    (index-only), and the page's rows are loaded, with their joins and
    annotations, by those keys (a subquery: the same one query per page). A
    deep page of a big folder costs what the first one costs instead of
    joining every row it skips.

    A page asked for before anything was counted is one statement: its rows
    carry the total, an uncorrelated count PostgreSQL computes once. Only a
    page with no rows (past the end, or an empty first page) is counted
    apart, to be refused or answered empty as Django's paginator does."""

    def __init__(self, object_list, per_page, **kwargs):
        self.rows = object_list
        super().__init__(object_list.values_list("pk", flat=True), per_page, **kwargs)

    def page(self, number):
        number = self._page_number(number)
        if "count" in self.__dict__ or self.orphans or number > _COUNTED_WITH_ROWS_UP_TO:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        keys = self.object_list[bottom:bottom + self.per_page]
        count_sql, count_params = self.object_list.order_by().query.sql_with_params()
        rows = list(self.rows.filter(pk__in=keys).annotate(
            listed_total=RawSQL(f"SELECT count(*) FROM ({count_sql}) AS listed", count_params)))
        if not rows:
            return super().page(number)
        self.__dict__["count"] = rows[0].listed_total  # the cached_property Paginator.count, filled
        return Page(rows, number, self)

    def get_page(self, number):
        """Django's forgiving page (the first for a number that is not one, the last past the end),
        in one statement when the page has rows."""
        try:
            return self.page(number)
        except PageNotAnInteger:
            return self.page(1)
        except EmptyPage:
            return self.page(self.num_pages)

    def _page_number(self, number) -> int:
        """Django's checks of a page number that need no count (an integer, from 1)."""
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return number

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
