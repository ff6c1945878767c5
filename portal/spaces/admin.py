import re

from django import forms
from django.contrib import admin
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from portal.adminpanel.adminkit import ReadOnlyAdmin, run_bulk, superuser_actions
from portal.spaces.models import Space
from portal.spaces.services import space_update

_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024**2, "MB": 1024**2, "G": 1024**3, "GB": 1024**3,
          "T": 1024**4, "TB": 1024**4}


class QuotaForm(forms.Form):
    quota = forms.CharField(label=_("New quota"), help_text=_("Bytes, or with a unit: 500M, 20G, 1T."))

    def clean_quota(self) -> int:
        found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)\s*", self.cleaned_data["quota"].upper())
        if not found:
            raise forms.ValidationError(_("Write a size such as 500M, 20G or 1T."))
        return int(float(found[1]) * _UNITS[found[2]])


@admin.register(Space)
class SpaceAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Read-only but for quotas: spaces change through services (audited)."""

    list_display = ("name", "kind", "used", "quota", "created_by", "created_at", "archived_at")
    list_filter = ("kind", ("archived_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "slug", "created_by__username")
    list_select_related = ("created_by",)
    readonly_fields = [f.name for f in Space._meta.fields]
    actions = ("change_quota",)

    @admin.display(description=_("used"), ordering="used_bytes")
    def used(self, space):
        return filesizeformat(space.used_bytes)

    @admin.display(description=_("quota"), ordering="quota_bytes")
    def quota(self, space):
        return filesizeformat(space.quota_bytes)

    @admin.action(description=_("Change the quota of the selected spaces"))
    def change_quota(self, request, queryset):
        form = QuotaForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            quota = form.cleaned_data["quota"]
            run_bulk(self, request, queryset.values_list("pk", flat=True),
                     lambda pk: space_update(actor=request.user, space_id=pk, quota=quota), done=_("Quotas changed"))
            return None
        return TemplateResponse(request, "admin/coffer/change_quota.html", {
            **self.admin_site.each_context(request), "title": _("Change quota"), "form": form,
            "spaces": list(queryset), "opts": self.model._meta})

    def get_actions(self, request):
        return superuser_actions(super().get_actions(request), request, ["change_quota"])
