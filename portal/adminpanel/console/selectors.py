"""Reads for the admin console. Every function here serves administrators
only (the views check), so nothing is scoped further."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.accounts.models import User
from portal.core.access import Role
from portal.core.errors import InvalidInput, NotFound
from portal.people.models import ExternalIdentity, Group, GroupMember
from portal.spaces.models import Membership, Space

PAGE_SIZE = 50
SEARCH_FIELDS = ("username", "email", "first_name", "last_name", "display_name")


def _search_q(query: str) -> Q:
    fields = {f.name for f in User._meta.get_fields()}
    q = Q()
    for field in SEARCH_FIELDS:
        if field in fields:
            q |= Q(**{f"{field}__icontains": query})
    return q


def users_page(query: str = "", page=1):
    """One page of users (search over name, e-mail and display name), each
    with ``two_factor`` and ``sources`` (the directories it is known to)."""
    users = User.objects.annotate(
        two_factor=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
    ).order_by("username", "id")
    query = (query or "").strip()[:150]
    if query:
        users = users.filter(_search_q(query))
    paged = Paginator(users, PAGE_SIZE).get_page(page)
    sources: dict[int, list[str]] = {}
    identities = ExternalIdentity.objects.filter(user__in=[u.pk for u in paged])
    for user_id, source in identities.values_list("user_id", "source"):
        sources.setdefault(user_id, []).append(source)
    for user in paged:
        user.sources = sorted(set(sources.get(user.pk, [])))
    return paged


def user_get(user_id) -> User:
    try:
        return User.objects.get(pk=int(user_id))
    except (TypeError, ValueError, User.DoesNotExist):
        raise NotFound(gettext("No such user.")) from None


def group_members(group: Group):
    return (GroupMember.objects.filter(group=group).select_related("user")
            .order_by("user__username"))


def active_user_named(username: str) -> User:
    user = User.objects.filter(username__iexact=(username or "").strip(), is_active=True).first()
    if user is None:
        raise InvalidInput(gettext("There is no active user named %(username)r.") % {"username": username},
                           code="unknown_user", detail={"field": "username"})
    return user


def spaces_page(query: str = "", page=1, *, trashed: bool = False):
    """Every space (or, with ``trashed``, every space in the trash), with its
    owners' names, for one page of the console."""
    spaces = (Space.objects.select_related("created_by", "deleted_by").filter(deleted_at__isnull=not trashed)
              .order_by("-deleted_at" if trashed else "name", "id"))
    query = (query or "").strip()[:100]
    if query:
        spaces = spaces.filter(name__icontains=query)
    paged = Paginator(spaces, PAGE_SIZE).get_page(page)
    owners: dict[int, list[str]] = {}
    for space_id, name in (Membership.objects.filter(space__in=[s.pk for s in paged], role=Role.OWNER)
                           .order_by("user__username").values_list("space_id", "user__username")):
        owners.setdefault(space_id, []).append(name)
    for space in paged:
        space.owner_names = owners.get(space.pk, [])
        space.percent = min(100, round(100 * space.used_bytes / space.quota_bytes)) if space.quota_bytes else 100
    return paged
