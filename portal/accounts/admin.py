from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import PersonalAccessToken, User
from portal.accounts.services import user_disable
from portal.adminpanel.adminkit import ReadOnlyAdmin, run_bulk, superuser_actions


@admin.register(User)
class UserAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Read-only but for disabling: accounts change through services (audited)."""

    list_display = ("username", "email", "is_active", "is_staff", "is_superuser", "last_login", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("username", "email", "first_name", "last_name")
    exclude = ("password", "user_permissions", "groups")
    readonly_fields = ("username", "email", "first_name", "last_name", "is_active", "is_staff", "is_superuser",
                       "last_login", "date_joined")
    actions = ("disable_users",)

    @admin.action(description=_("Disable the selected users (ends sessions, tokens, links, devices)"))
    def disable_users(self, request, queryset):
        run_bulk(self, request, queryset.values_list("pk", flat=True),
                 lambda pk: user_disable(actor=request.user, user_id=pk), done=_("Users disabled"))

    def get_actions(self, request):
        return superuser_actions(super().get_actions(request), request, ["disable_users"])


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("name", "user", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "user__username")
    list_select_related = ("user",)
    exclude = ("verifier_hash",)
    readonly_fields = ("user", "name", "selector", "created_at", "expires_at", "last_used_at", "revoked_at")
