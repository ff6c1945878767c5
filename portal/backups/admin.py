from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from portal.adminpanel.adminkit import ReadOnlyAdmin, run_bulk, superuser_actions
from portal.backups.models import Device, Pack, RetentionPolicy, Snapshot
from portal.backups.services.devices import device_revoke


@admin.register(Device)
class DeviceAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("name", "user", "hostname", "platform", "last_seen_at", "last_backup_at", "revoked_at")
    list_filter = ("platform",)
    search_fields = ("name", "hostname", "user__username")
    readonly_fields = ("selector", "verifier_hash", "created_at", "last_seen_at", "last_backup_at", "revoked_at")
    actions = ("revoke_devices",)

    @admin.action(description=_("Revoke the selected devices (their tokens stop working)"))
    def revoke_devices(self, request, queryset):
        run_bulk(self, request, list(queryset.select_related("user")),
                 lambda device: device_revoke(actor=request.user, device=device), done=_("Devices revoked"))

    def get_actions(self, request):
        return superuser_actions(super().get_actions(request), request, ["revoke_devices"])


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("id", "device", "started_at", "finished_at", "files", "bytes")
    list_filter = ("device",)
    readonly_fields = [f.name for f in Snapshot._meta.fields]


@admin.register(Pack)
class PackAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("pack_id", "device", "size", "created_at", "indexed_at")
    readonly_fields = [f.name for f in Pack._meta.fields]


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("device", "keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly")
