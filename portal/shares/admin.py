from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from portal.adminpanel.adminkit import ReadOnlyAdmin, run_bulk, superuser_actions
from portal.shares.models import ShareLink
from portal.shares.services import share_link_revoke


@admin.register(ShareLink)
class ShareLinkAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Read-only here: links change through the API and services (audited)."""

    list_display = ("id", "node", "space", "created_by", "permission", "audience", "expires_at", "download_count",
                    "revoked_at")
    search_fields = ("node__name", "created_by__username")
    exclude = ("verifier", "sealed_token", "password_hash")
    list_filter = ("permission", "audience", ("revoked_at", admin.EmptyFieldListFilter), "space")
    actions = ("revoke_links",)

    @admin.action(description=_("Revoke the selected links"))
    def revoke_links(self, request, queryset):
        run_bulk(self, request, queryset.values_list("pk", flat=True),
                 lambda pk: share_link_revoke(actor=request.user, link_id=pk), done=_("Links revoked"))

    def get_actions(self, request):
        return superuser_actions(super().get_actions(request), request, ["revoke_links"])
