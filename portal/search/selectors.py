"""Reads of the find pages (Recent, Starred, Shared with me), scoped in SQL
to what the actor may still read; each list is one query."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.db.models import BooleanField, Exists, OuterRef
from django.db.models.expressions import RawSQL
from django.utils import timezone

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.search.models import Star
from portal.search.query import _COLUMNS, DOCS, SPACES, Hit, readable_spaces
from portal.shares.models import Audience, ShareLink
from portal.shares.selectors import _IN_TRASH
from portal.spaces.models import Membership, SpaceKind

RECENT_ACTIONS = (Action.FILE_UPLOADED, Action.FILE_DOWNLOADED, Action.FILE_VIEWED, Action.FILE_RENAMED,
                  Action.FILE_MOVED, Action.FILE_COPIED, Action.FILE_VERSION_RESTORED, Action.FILE_RESTORED,
                  Action.FOLDER_CREATED)
RECENT_DAYS = 90
JOINED_DAYS = 30
LIST_LIMIT = 100

_READABLE = f" JOIN {SPACES} s ON s.id = d.space_id WHERE d.trashed = %s AND {readable_spaces('d.space_id')}"


def _rows(sql: str, params: list) -> list[tuple[Hit, object]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(Hit(*row[:-1]), row[-1]) for row in cursor.fetchall()]


def recent_list(actor, *, limit: int = LIST_LIMIT) -> list[tuple[Hit, object]]:
    """Files and folders the actor uploaded, changed, viewed or downloaded in
    the last RECENT_DAYS days, once each, newest first, with when."""
    events = AuditEvent._meta.db_table
    marks = ", ".join(["%s"] * len(RECENT_ACTIONS))
    sql = (f"SELECT {_COLUMNS}, 4, r.last FROM (SELECT target_id, MAX(created_at) AS last FROM {events} "
           f"WHERE actor_id = %s AND target_type = %s AND action IN ({marks}) AND created_at >= %s "
           f"GROUP BY target_id) r JOIN {DOCS} d ON d.node_id = CAST(r.target_id AS BIGINT)"
           f"{_READABLE} ORDER BY r.last DESC, d.node_id DESC LIMIT %s")
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    return _rows(sql, [actor.pk, "node", *RECENT_ACTIONS, since, False, actor.pk, actor.pk, limit])


def starred_list(actor, *, limit: int = LIST_LIMIT) -> list[tuple[Hit, object]]:
    """The actor's starred files and folders they can still read (not in the trash), newest star first."""
    stars = Star._meta.db_table
    sql = (f"SELECT {_COLUMNS}, 4, st.created FROM {stars} st JOIN {DOCS} d ON d.node_id = st.node_id"
           f"{_READABLE} AND st.user_id = %s ORDER BY st.created DESC, st.id DESC LIMIT %s")
    return _rows(sql, [False, actor.pk, actor.pk, actor.pk, limit])


def starred_by(actor) -> Exists:
    """A column for a query of nodes: whether ``actor`` starred each (``.annotate(is_starred=starred_by(user))``)."""
    return Exists(Star.objects.filter(user_id=actor.pk, node_id=OuterRef("pk")))


def starred_ids(actor, node_ids) -> set[int]:
    """Which of these nodes the actor starred (one query)."""
    if not node_ids or not getattr(actor, "is_authenticated", False):
        return set()
    return set(Star.objects.filter(user=actor, node_id__in=list(node_ids)).values_list("node_id", flat=True))


def links_to_me(actor, *, limit: int = LIST_LIMIT):
    """Live share links addressed to the actor by name (their e-mail address
    among a "people" link's recipients), newest first; not a link to
    something in the trash, nor below a folder in the trash."""
    if not actor.email:
        return ShareLink.objects.none()
    now = timezone.now()
    in_trash = RawSQL(_IN_TRASH, [], output_field=BooleanField())   # the node or a folder above it
    return (ShareLink.objects.alias(in_trash=in_trash)
            .filter(audience=Audience.PEOPLE, recipients__email__iexact=actor.email, revoked_at__isnull=True,
                    in_trash=False, owner_enabled=True, manager_enabled=True, space__deleted_at__isnull=True)
            .exclude(expires_at__lte=now).exclude(created_by=actor)
            .select_related("node", "space", "created_by").order_by("-created_at", "-id").distinct()[:limit])


def spaces_joined_recently(actor, *, days: int = JOINED_DAYS):
    """Team spaces the actor became a member of in the last ``days`` days, newest first."""
    since = timezone.now() - timedelta(days=days)
    return (Membership.objects.filter(user=actor, created_at__gte=since, space__deleted_at__isnull=True)
            .exclude(space__kind=SpaceKind.PERSONAL)
            .exclude(space__created_by=actor).select_related("space").order_by("-created_at", "-id"))
