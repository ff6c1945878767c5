from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import ngettext
from django.utils.translation import gettext_lazy as _

from portal.adminpanel.adminkit import ReadOnlyAdmin, superuser_actions
from portal.core.errors import PortalError
from portal.locks.models import Lock
from portal.locks.services import lock_break


@admin.register(Lock)
class LockAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Read-only but for breaking: a lock changes only through its services,
    so every break is audited and its owner told."""

    list_display = ("id", "node", "owner", "kind", "scope", "depth", "client", "created_at", "expires_at", "live")
    list_filter = ("kind", "scope", ("expires_at", admin.DateFieldListFilter))
    search_fields = ("node__name", "owner__username", "client", "note")
    list_select_related = ("node", "owner")
    readonly_fields = tuple(f.name for f in Lock._meta.fields if f.name != "token")
    exclude = ("token",)
    actions = ("break_locks",)

    @admin.display(boolean=True)
    def live(self, obj: Lock) -> bool:
        return obj.expires_at > timezone.now()

    def get_actions(self, request):
        return superuser_actions(super().get_actions(request), request, ["break_locks"])

    @admin.action(description=_("Break the selected locks (their owners are told)"))
    def break_locks(self, request, queryset):
        if not request.user.is_superuser:
            self.message_user(request, _("Only superusers can break locks here."), messages.ERROR)
            return
        broken = 0
        for lock_id in queryset.values_list("pk", flat=True):
            try:
                lock_break(actor=request.user, lock_id=lock_id)
                broken += 1
            except PortalError as exc:
                self.message_user(request, f"Lock {lock_id}: {exc.message}", messages.ERROR)
        if broken:
            self.message_user(request, ngettext("Broke %(count)d lock.", "Broke %(count)d locks.", broken)
                              % {"count": broken}, messages.SUCCESS)
