from django.contrib import admin

from portal.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Strictly read-only: the log can be searched, never edited."""

    list_display = ("id", "created_at", "actor_label", "action", "outcome", "target_label", "space", "ip")
    list_filter = ("action", "outcome", ("created_at", admin.DateFieldListFilter), "space", "actor")
    search_fields = ("target_label", "actor_label", "action", "ip")
    date_hierarchy = "created_at"
    list_select_related = ("space",)
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
