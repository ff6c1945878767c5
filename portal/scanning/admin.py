"""The review queue: flagged files wait here; release and delete go through
the services, so each decision is audited. Verdicts are never edited by hand."""

from django.contrib import admin, messages
from django.utils.translation import ngettext
from django.utils.translation import gettext_lazy as _

from portal.adminpanel.adminkit import ReadOnlyAdmin
from portal.core.errors import PortalError
from portal.scanning import services
from portal.scanning.models import BlockedHash, ScanState, ScanVerdict
from portal.outbox.services import enqueue_many


@admin.register(ScanVerdict)
class ScanVerdictAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("id", "label", "state", "scanner", "signature", "via_share", "created_at", "scanned_at",
                    "reviewed_by", "reviewed_at")
    list_filter = ("state", "scanner", "via_share", "fail_closed")
    search_fields = ("label", "signature")
    readonly_fields = [field.name for field in ScanVerdict._meta.fields]
    actions = ["release", "delete_content", "scan_again"]
    ordering = ("-created_at",)

    def _each(self, request, queryset, service, done) -> None:
        """``done(count)``: the sentence that reports how many files were handled."""
        count = 0
        for verdict in queryset.filter(state=ScanState.FLAGGED):
            if not ScanVerdict.objects.filter(pk=verdict.pk, state=ScanState.FLAGGED).exists():
                continue  # released or deleted with an earlier one holding the same bytes
            try:
                service(actor=request.user, verdict_id=verdict.pk)
                count += 1
            except PortalError as exc:
                self.message_user(request, f"{verdict.label}: {exc.message}", messages.ERROR)
        self.message_user(request, done(count) % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Release: the file is safe (downloadable and shareable again)"))
    def release(self, request, queryset):
        self._each(request, queryset, services.quarantine_release,
                   lambda n: ngettext("%(count)d file released.", "%(count)d files released.", n))

    @admin.action(description=_("Delete: remove the selected flagged versions for good (nothing else)"))
    def delete_content(self, request, queryset):
        self._each(request, queryset, services.quarantine_delete,
                   lambda n: ngettext("%(count)d file deleted.", "%(count)d files deleted.", n))

    @admin.action(description=_("Scan again (pending and failed scans)"))
    def scan_again(self, request, queryset):
        from portal.scanning.tasks import scan_version

        ids = list(queryset.filter(state__in=[ScanState.PENDING, ScanState.ERROR], version__isnull=False)
                   .values_list("version_id", flat=True))
        enqueue_many(scan_version, [(version_id,) for version_id in ids])
        self.message_user(request, ngettext("%(count)d scan queued.", "%(count)d scans queued.", len(ids))
                          % {"count": len(ids)}, messages.SUCCESS)


@admin.register(BlockedHash)
class BlockedHashAdmin(admin.ModelAdmin):
    list_display = ("sha256", "note", "created_by", "created_at")
    search_fields = ("sha256", "note")
    fields = ("sha256", "note")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
