"""The audit panel: the log (strictly read-only: searched, filtered,
exported, never edited) and its large exports. The rest of the admin console
(dashboard, maintenance page) is ``portal.adminpanel``."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.adminpanel.adminkit import ReadOnlyAdmin
from portal.audit import exports
from portal.audit.actions import Action
from portal.audit.models import AuditEvent, AuditExport
from portal.audit.selectors import (
    ADDRESS,
    RANGE_FROM,
    RANGE_TO,
    filter_address,
    filter_range,
    search,
)
from portal.audit.sentences import describe
from portal.core.errors import InvalidInput


class InputFilter(admin.ListFilter):
    """A list filter made of text inputs (GET parameters ``parameters``)."""

    parameters: tuple[tuple[str, str, str], ...] = ()  # (name, label, input type)
    template = "admin/audit/input_filter.html"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.values = {}
        for name, _label, _kind in self.parameters:
            if name in params:
                value = params.pop(name)
                self.values[name] = (value[-1] if isinstance(value, list) else value).strip()
        self.others = [(k, v) for k, v in request.GET.items() if k not in dict(self.values) and
                       k not in {name for name, _label, _kind in self.parameters} and k != "p"]

    def has_output(self) -> bool:
        return True

    def expected_parameters(self):
        return [name for name, _label, _kind in self.parameters]

    def choices(self, changelist):
        yield {
            "fields": [(name, label, kind, self.values.get(name, "")) for name, label, kind in self.parameters],
            "others": self.others,
            "clear_url": changelist.get_query_string(remove=self.expected_parameters()),
            "active": any(self.values.values()),
        }

    def queryset(self, request, queryset):
        try:
            return self.apply(queryset)
        except InvalidInput as exc:
            raise IncorrectLookupParameters(exc.message) from exc


class DateRangeFilter(InputFilter):
    title = _("time range")
    parameters = ((RANGE_FROM, _("from"), "date"), (RANGE_TO, _("to"), "date"))

    def apply(self, queryset):
        return filter_range(queryset, self.values.get(RANGE_FROM), self.values.get(RANGE_TO))


class AddressFilter(InputFilter):
    title = _("address")
    parameters = ((ADDRESS, _("IP address"), "text"),)

    def apply(self, queryset):
        return filter_address(queryset, self.values.get(ADDRESS))


class KnownActionFilter(admin.AllValuesFieldListFilter):
    """"By action" from the list of actions Coffer records, not a DISTINCT over the whole log (seconds at
    100 million events); same parameter (``?action=``) and the same links."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = sorted(Action.values)


class EstimatedCountPaginator(Paginator):
    """The admin's paginator, counting exactly only what is small: on
    PostgreSQL a list the planner expects to hold more than ESTIMATE_ABOVE
    rows is counted by the planner's estimate (EXPLAIN, never run), since an
    exact count of a log of 100 million events reads every row of an index
    for each page. The total shown is then approximate; the rows are exact."""

    ESTIMATE_ABOVE = 100_000

    @cached_property
    def count(self) -> int:
        if connection.vendor != "postgresql":
            return super().count
        sql, params = self.object_list.order_by().query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        return estimate if estimate > self.ESTIMATE_ABOVE else super().count


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Strictly read-only: the log can be searched and exported, never edited."""

    # The sentence names the actor, the target and the address: those columns would only push it off-screen.
    list_display = ("created_at", "sentence", "action", "space", "outcome")
    list_display_links = ("created_at",)
    list_filter = (DateRangeFilter, ("action", KnownActionFilter), "outcome", "space", "actor", AddressFilter)
    search_fields = ("target_label", "actor_label", "ip")
    search_help_text = _("Path, name or address")
    list_select_related = ("space",)
    list_per_page = 100
    show_full_result_count = False  # counting millions of rows for every page is not worth it
    paginator = EstimatedCountPaginator
    fieldsets = (
        (None, {"fields": ("sentence",)}),
        (_("Event"), {"fields": ("id", "created_at", "action", "outcome", "actor", "actor_label", "target_type",
                              "target_id", "target_label", "space", "ip", "user_agent", "details")}),
        (_("Hash chain"), {"fields": ("seq", "prev_hash", "chain_hash", "sealed_at")}),
    )
    readonly_fields = ("sentence", *(f.name for f in AuditEvent._meta.fields))
    actions = None

    class Media:
        css = {"all": ("adminpanel/audit.css",)}

    @admin.display(description=_("what happened"))
    def sentence(self, obj: AuditEvent) -> str:
        return describe(obj)

    def get_search_results(self, request, queryset, search_term):
        return search(queryset, search_term), False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("export/<str:fmt>/", view(self.export_view), name="audit_auditevent_export"),
            *super().get_urls(),
        ]

    def export_view(self, request, fmt: str):
        """The listed events (the same filters and search) as CSV or JSON Lines:
        streamed, or written by a Celery task when there are too many."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        listing = reverse("admin:audit_auditevent_changelist")
        try:
            exports.check_format(fmt)
            params = exports.export_params(request.GET)
            events = exports.events_filtered(params)
            rows = events.count()
            if rows > settings.AUDIT_EXPORT_SYNC_MAX:
                export = exports.audit_export_start(actor=request.user, fmt=fmt, params=params)
                self.message_user(request, gettext("%(rows)s events are being exported in the background (export "
                                                   "%(export)s); the download link appears here when it is ready.")
                                  % {"rows": rows, "export": export.pk},
                                  messages.INFO)
                return HttpResponseRedirect(reverse("admin:audit_auditexport_changelist"))
            exports.export_stream_record(actor=request.user, fmt=fmt, params=params, rows=rows)
        except InvalidInput as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(listing)
        response = StreamingHttpResponse(exports.lines(events, fmt), content_type=exports.CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="audit-{timezone.now():%Y%m%d-%H%M%S}.{fmt}"'
        return response


@admin.register(AuditExport)
class AuditExportAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("id", "created_at", "created_by", "format", "filters", "status", "rows", "finished_at",
                    "download")
    list_filter = ("status", "format")
    readonly_fields = ("download", *(f.name for f in AuditExport._meta.fields))
    list_select_related = ("created_by",)
    actions = None

    @admin.display(description=_("download"))
    def download(self, obj: AuditExport):
        url = exports.download_url(obj)
        return format_html('<a href="{}">{}</a>', url, obj.filename) if url else (obj.error[:200] or "—")
