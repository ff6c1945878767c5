"""Console: groups — the list, one group's members, and the changes an
administrator makes to local groups. Mirrored groups (LDAP, single sign-on,
SCIM) are read-only here: their directory owns them."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from portal.adminpanel.console import forms
from portal.adminpanel.console.access import console_page
from portal.adminpanel.console.selectors import active_user_named, group_members, user_get
from portal.core.errors import Conflict
from portal.people import services as people
from portal.people.models import Group, GroupSource
from portal.people.selectors import group_get, groups_list
from portal.web.common import go_to


def _local(group: Group) -> Group:
    if group.source != GroupSource.LOCAL:
        raise Conflict(gettext("The group %(name)s is managed by its directory (%(source)s); change it there.")
                       % {"name": group.name, "source": group.get_source_display()}, code="group_mirrored")
    return group


@console_page
def group_list(request):
    return render(request, "manage/groups.html", {"console_section": "groups", "groups": groups_list()})


@console_page
def group_detail(request, group_id):
    group = group_get(group_id)
    return render(request, "manage/group.html", {"console_section": "groups", "group": group,
                                                 "members": group_members(group),
                                                 "local": group.source == GroupSource.LOCAL})


@console_page
@require_POST
def group_new(request):
    group = people.group_create(actor=request.user, name=forms.text(request.POST, "name", label=gettext("the name")))
    messages.success(request, gettext("The group %(name)s was created.") % {"name": group.name})
    return go_to(request, reverse("manage:group", args=[group.pk]))


@console_page
@require_POST
def group_rename(request, group_id):
    group = _local(group_get(group_id))
    name = forms.text(request.POST, "name", label=gettext("the name"))
    people.group_rename(actor=request.user, group=group, name=name)
    messages.success(request, gettext("The group is now called %(name)s.") % {"name": group.name})
    return go_to(request, reverse("manage:group", args=[group.pk]))


@console_page
@require_POST
def group_delete(request, group_id):
    group = _local(group_get(group_id))
    name = group.name
    people.group_delete(actor=request.user, group=group)
    messages.success(request, gettext("The group %(name)s was deleted.") % {"name": name})
    return go_to(request, reverse("manage:groups"))


@console_page
@require_POST
def group_member_add(request, group_id):
    group = _local(group_get(group_id))
    user = active_user_named(forms.text(request.POST, "username", label=gettext("the username")))
    people.group_member_add(actor=request.user, group=group, user=user)
    messages.success(request, gettext("%(username)s is in %(name)s.") % {"username": user.get_username(),
                                                                         "name": group.name})
    return go_to(request, reverse("manage:group", args=[group.pk]))


@console_page
@require_POST
def group_member_remove(request, group_id, user_id):
    group = _local(group_get(group_id))
    user = user_get(user_id)
    people.group_member_remove(actor=request.user, group=group, user=user)
    messages.success(request, gettext("%(username)s was removed from %(name)s.") % {"username": user.get_username(),
                                                                                    "name": group.name})
    return go_to(request, reverse("manage:group", args=[group.pk]))
