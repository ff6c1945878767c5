"""Console: every space — usage against quota, owners, quota in human
units, archive and unarchive, making someone an owner, moving a space to the
trash and restoring it from there."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from portal.adminpanel.console import forms
from portal.adminpanel.console.access import console_page
from portal.adminpanel.console.selectors import spaces_page
from portal.core.sizes import size_text
from portal.spaces import services as spaces
from portal.web.common import go_to


@console_page
def space_list(request):
    query, trashed = request.GET.get("q", ""), request.GET.get("show") == "trash"
    page = spaces_page(query, forms.page_number(request.GET), trashed=trashed)
    for space in page:
        space.quota_text = size_text(space.quota_bytes)
    return render(request, "manage/spaces.html", {"console_section": "spaces", "page": page, "query": query,
                                                  "trashed": trashed})


@console_page
@require_POST
def space_quota(request, space_id):
    space = spaces.space_update(actor=request.user, space_id=space_id, quota=forms.size(request.POST, "quota"))
    messages.success(request, gettext("The quota of %(name)s is %(size)s.") % {"name": space.name,
                                                                              "size": size_text(space.quota_bytes)})
    return go_to(request, reverse("manage:spaces"))


@console_page
@require_POST
def space_owner(request, space_id):
    membership = spaces.space_owner_set(actor=request.user, space_id=space_id,
                                        username=forms.text(request.POST, "username", label=gettext("the username")))
    messages.success(request, gettext("%(username)s is an owner of %(name)s.")
                     % {"username": membership.user.get_username(), "name": membership.space.name})
    return go_to(request, reverse("manage:spaces"))


@console_page
@require_POST
def space_archive(request, space_id, archived):
    space = spaces.space_update(actor=request.user, space_id=space_id, archived=archived)
    done = (gettext("%(name)s is archived: read-only until it is unarchived.") if archived
            else gettext("%(name)s is unarchived."))
    messages.success(request, done % {"name": space.name})
    return go_to(request, reverse("manage:spaces"))


@console_page
@require_POST
def space_trash(request, space_id):
    space = spaces.space_trash(actor=request.user, space_id=space_id)
    messages.success(request, gettext("%(name)s is in the trash: gone for its members until it is restored.")
                     % {"name": space.name})
    return go_to(request, reverse("manage:spaces"))


@console_page
@require_POST
def space_restore(request, space_id):
    space = spaces.space_restore(actor=request.user, space_id=space_id)
    messages.success(request, gettext("%(name)s is restored.") % {"name": space.name})
    return go_to(request, reverse("manage:spaces") + "?show=trash")
