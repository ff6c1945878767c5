"""What visitors do through a link: unlock it, view, preview, download,
upload. Every one of these is an audit event with the visitor's address and
user agent (from the request context), and the counters that enforce limits
change only by conditional UPDATEs, so a limit holds under any concurrency.

Each visit resolves its link once (``link_open``: a ResolvedLink) and the
node it asks for once (``selectors.link_target``: a Target), and hands both
down.

Views, previews and downloads change nothing but a counter, so their events
go through ``audit.record_read``: committed (without waiting for the WAL
flush) before the visitor gets an answer. What holds: once an answer (a
page, a 302 to the bytes, the first byte of a stream) has left, its event
and its count are committed, so no crash or SIGKILL of the portal can lose
them; a crash of the *database server* may lose the last ~0.6 s of them
(PORTAL_AUDIT_DURABLE_READS=1: none), except the count of a link with a
limit, which waits for the flush, so a limit holds across any crash. The
count commits before its event: a crash between the two can count a
download that never left, never the reverse.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from portal.audit import context
from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.audit.services import record, record_read
from portal.core.access import Cap, is_admin
from portal.core.errors import Forbidden, InvalidInput, PortalError
from portal.files import names
from portal.files.models import FileVersion
from portal.files.services.direct import file_put
from portal.shares import throttle
from portal.shares.models import Audience, LinkState, Permission, ShareLink
from portal.shares.selectors import ResolvedLink, Target, link_from_token
from portal.spaces.selectors import SpaceAccess

_GONE_MESSAGES = {
    LinkState.REVOKED: gettext_lazy("This link was revoked by the person who shared it."),
    LinkState.DISABLED: gettext_lazy("This link is switched off. Ask the person who shared it to switch it on again."),
    LinkState.EXPIRED: gettext_lazy("This link has expired. Ask the person who shared it for a new one."),
    LinkState.EXHAUSTED: gettext_lazy("This link has reached its limit of downloads or previews and no longer works."),
    LinkState.REMOVED: gettext_lazy("The shared file or folder was deleted."),
}


class LinkGone(PortalError):
    status = 410

    def __init__(self, state: str, message: str | None = None):
        super().__init__(message or str(_GONE_MESSAGES[state]), code=f"link_{state}", detail={"state": state})
        self.state = state


@dataclass(frozen=True)
class Visitor:
    user: object | None = None      # a signed-in user, or None
    email: str = ""                 # proven with a security code (people links)

    @property
    def address(self) -> str:
        return context.current().ip or ""

    @property
    def label(self) -> str:
        if self.email:
            return self.email
        if self.user is not None and getattr(self.user, "is_authenticated", False):
            return self.user.get_username()
        return "anonymous visitor"


def _record(opened: ResolvedLink, action: str, visitor: Visitor, *, outcome: str = Outcome.SUCCESS,
            details: dict | None = None, label: str | None = None, read: bool = False) -> None:
    """One event of the link; ``read``: an action that changed nothing but a
    counter already committed (see the module's docstring)."""
    (record_read if read else record)(
        action=action, actor=visitor.user, actor_label=visitor.label, target=opened.link,
        target_label=label or opened.label, space=opened.space, outcome=outcome, details=details or {})


def _creator_may(opened: ResolvedLink) -> bool:
    """A link can never give more than its owner has now (their role came with the link's query)."""
    link, creator = opened.link, opened.link.created_by
    cap = Cap.FILE_WRITE if link.permission in (Permission.UPLOAD, Permission.EDIT) else Cap.FILE_READ
    access = SpaceAccess(space=opened.space, role=opened.creator_role, admin=is_admin(creator))
    return creator.is_active and access.can(cap)


def link_open(token: str) -> ResolvedLink:
    """The link behind a token if it works; NotFound for unknown tokens,
    LinkGone (410) saying why for links that stopped working."""
    opened = link_from_token(token)
    link = opened.link
    state = link.state_at()
    if state == LinkState.ACTIVE and opened.in_trash:
        state = LinkState.REMOVED
    if state == LinkState.ACTIVE and link.space_id != opened.node.space_id:
        # Moves carry links along (services.share_links_follow); one left behind never serves the file.
        raise LinkGone(LinkState.DISABLED, gettext("This link no longer works: the shared file or folder was moved."))
    if state == LinkState.ACTIVE and not _creator_may(opened):
        raise LinkGone(LinkState.DISABLED, gettext("This link no longer works: the person who shared it no longer "
                                                   "has access to the file."))
    if state == LinkState.ACTIVE and opened.gated:
        raise LinkGone(LinkState.DISABLED, gettext("This link is switched off for now: the file holds sensitive "
                                                   "content and waits for an administrator's review."))
    if state != LinkState.ACTIVE:
        raise LinkGone(state)
    return opened


def audience_allows(link: ShareLink, visitor: Visitor) -> bool:
    if link.audience == Audience.INTERNAL:
        return visitor.user is not None and getattr(visitor.user, "is_authenticated", False)
    if link.audience == Audience.PEOPLE:
        return bool(visitor.email) and link.recipients.filter(email=visitor.email).exists()
    return True


# --- unlocking: password and security codes ----------------------------------------------

def _refused(opened: ResolvedLink, visitor: Visitor, action: str, details: dict) -> None:
    """A wrong answer (already counted by its reservation) restarts the delay
    and is recorded (one INSERT: its own transaction, no BEGIN/COMMIT around it)."""
    throttle.failed(opened.link.pk, visitor.address)
    _record(opened, action, visitor, outcome=Outcome.FAILURE, details=details)


def _throttle_check(opened: ResolvedLink, visitor: Visitor, *, reserve: bool = False) -> None:
    """Refuse (and record) an answer from a visitor who must wait; with
    ``reserve`` the answer is counted as a failure in the same atomic step,
    before it is evaluated, so parallel guesses cannot slip past the limit."""
    try:
        (throttle.reserve if reserve else throttle.check)(opened.link.pk, visitor.address)
    except PortalError as exc:
        _record(opened, Action.SHARE_THROTTLED, visitor, outcome=Outcome.DENIED, details=exc.detail)
        raise


def password_try(*, opened: ResolvedLink, visitor: Visitor, password: str) -> None:
    """A visitor answers a link's password; Forbidden when wrong, Throttled
    when answering too fast or too often."""
    _throttle_check(opened, visitor, reserve=True)
    if not isinstance(password, str) or not password or not check_password(password, opened.link.password_hash):
        _refused(opened, visitor, Action.SHARE_PASSWORD_FAILED, {})
        raise Forbidden(gettext("Wrong password."), code="wrong_password")
    throttle.succeeded(opened.link.pk, visitor.address)
    _record(opened, Action.SHARE_UNLOCKED, visitor, details={"by": "password"})


def _code_key(link: ShareLink, email: str) -> str:
    return f"share:code:{link.pk}:{link.unlock_epoch}:{hashlib.sha256(email.encode()).hexdigest()}"


def _code_hash(code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), code.encode(), hashlib.sha256).hexdigest()


def code_send(*, opened: ResolvedLink, visitor: Visitor, email: str) -> None:
    """Send a one-time security code to ``email`` if it may open the link.
    The answer is the same either way, so nobody learns who the recipients are."""
    link = opened.link
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 254:
        raise InvalidInput(gettext("Enter the email address this link was shared with."), code="invalid_email")
    _throttle_check(opened, visitor)
    sends_key = f"share:code-sends:{link.pk}:{hashlib.sha256(email.encode()).hexdigest()}"
    cache.add(sends_key, 0, timeout=settings.SHARE_FAILURE_WINDOW_MINUTES * 60)
    if cache.incr(sends_key) > settings.SHARE_CODE_SENDS_PER_ADDRESS:
        raise PortalError(gettext("Too many codes were sent to this address; use the last one or try again later."),
                          code="throttled", status=429,
                          detail={"retry_after": settings.SHARE_FAILURE_WINDOW_MINUTES * 60})
    is_recipient = link.recipients.filter(email=email).exists()
    _record(opened, Action.SHARE_CODE_SENT, visitor, outcome=Outcome.SUCCESS if is_recipient else Outcome.DENIED,
            details={"email": email})
    if not is_recipient:
        return
    code = f"{secrets.randbelow(10**8):08d}"
    cache.set(_code_key(link, email), _code_hash(code), timeout=settings.SHARE_CODE_MINUTES * 60)
    values = {"name": opened.node.name, "owner": link.created_by.get_username(), "code": code,
              "minutes": settings.SHARE_CODE_MINUTES}
    send_mail(subject=gettext("Your security code for %(name)s") % values,
              message=gettext("Your code to open the file %(name)s shared by %(owner)s is:\n\n    %(code)s\n\n"
                              "It works once, for %(minutes)s minutes. If you did not ask for it, ignore this "
                              "email.") % values,
              from_email=None, recipient_list=[email])


def code_try(*, opened: ResolvedLink, visitor: Visitor, email: str, code: str) -> Visitor:
    """A visitor answers the code sent to ``email``; returns the visitor as
    that proven address."""
    email = (email or "").strip().lower()
    _throttle_check(opened, visitor, reserve=True)
    key = _code_key(opened.link, email)
    expected = cache.get(key)
    given = _code_hash((code or "").strip())
    # One use: of two requests racing with the same code, only the one that deletes it gets in.
    if not expected or not hmac.compare_digest(expected, given) or not cache.delete(key):
        _refused(opened, visitor, Action.SHARE_CODE_FAILED, {"email": email})
        raise Forbidden(gettext("Wrong or expired code. Ask for a new one if it is more than %(SHARE_CODE_MINUTES)s minutes old.") % {"SHARE_CODE_MINUTES": settings.SHARE_CODE_MINUTES}, code="wrong_code")
    throttle.succeeded(opened.link.pk, visitor.address)
    proven = Visitor(user=visitor.user, email=email)
    _record(opened, Action.SHARE_UNLOCKED, proven, details={"by": "code"})
    return proven


# --- using the link --------------------------------------------------------------------------

def _label(opened: ResolvedLink, target: Target) -> str:
    return f"{opened.label}/{target.inner_path}" if target.inner else opened.label


def view_record(*, opened: ResolvedLink, visitor: Visitor, target: Target) -> None:
    """A page of the link was shown (never counts against a limit)."""
    _record(opened, Action.SHARE_VIEWED, visitor, label=_label(opened, target), read=True)


def _count_sql(field: str, limit_field: str, *, first_download: bool) -> str:
    """One statement: count one more use if the link still works and the
    limit allows it (a revocation, a switch or the expiry that landed since
    the link was opened refuses this use too), set first_download_at once,
    and on PostgreSQL choose the commit: a link with a limit waits for the
    WAL flush (the limit holds across any crash), one without does not."""
    first = ", first_download_at = COALESCE(first_download_at, %(now)s)" if first_download else ""
    first_returned = ", first_download_at = %(now)s" if first_download else ", FALSE"
    mode = ""
    if connection.vendor == "postgresql" and not settings.AUDIT_DURABLE_READS:
        mode = f", set_config('synchronous_commit', CASE WHEN {limit_field} IS NULL THEN 'off' ELSE 'on' END, true)"
    return (f"UPDATE {ShareLink._meta.db_table} SET {field} = {field} + 1{first} "
            f"WHERE id = %(id)s AND ({limit_field} IS NULL OR {field} < {limit_field}) AND revoked_at IS NULL "
            "AND owner_enabled AND manager_enabled AND (expires_at IS NULL OR expires_at > %(now)s) "
            f"RETURNING {field}, {limit_field}{first_returned}{mode}")


def _count(opened: ResolvedLink, visitor: Visitor, field: str, limit_field: str, *,
           first_download: bool = False) -> bool:
    """Count one more use, or refuse when the limit is reached (race-free:
    one conditional UPDATE, its own transaction unless the caller has one).
    Reaching the limit is recorded once. True when this was the link's first download."""
    link = opened.link
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(_count_sql(field, limit_field, first_download=first_download), {"id": link.pk, "now": now})
        row = cursor.fetchone()
    if row is None:
        link.refresh_from_db()
        state = link.state_at()
        raise LinkGone(state if state != LinkState.ACTIVE else LinkState.EXHAUSTED)
    count, limit, first = row[:3]
    setattr(link, field, count)
    if limit is not None and count == limit:
        _record(opened, Action.SHARE_EXHAUSTED, visitor, details={limit_field: limit})
    return bool(first)


def download_record(*, opened: ResolvedLink, visitor: Visitor, target: Target, version: FileVersion | None,
                    zipped: bool = False) -> None:
    """A download through the link started (a response from byte 0): it
    counts against max_downloads, or is refused when the limit is reached."""
    link = opened.link
    if link.permission not in (Permission.DOWNLOAD, Permission.EDIT):
        raise Forbidden(gettext("This link does not allow downloads."), code="no_download")
    first = _count(opened, visitor, "download_count", "max_downloads", first_download=True)
    details = {"zip": zipped} if zipped else {"version": version.number if version else None,
                                             "size": version.size if version else 0}
    _record(opened, Action.SHARE_DOWNLOADED, visitor, label=_label(opened, target), details=details, read=True)
    if first and link.notify_on_first_download and link.created_by.email:
        owner_email, name = link.created_by.email, opened.node.name
        subject = gettext("Your shared link to %(name)s was downloaded") % {"name": name}
        message = gettext("%(visitor)s downloaded %(name)s through your share link for the first time.") % {
            "visitor": visitor.label, "name": name}
        transaction.on_commit(lambda: send_mail(subject=subject, message=message, from_email=None,
                                                recipient_list=[owner_email], fail_silently=True))


def preview_record(*, opened: ResolvedLink, visitor: Visitor, target: Target) -> None:
    """A preview rendition was served: counts against max_previews."""
    _count(opened, visitor, "preview_count", "max_previews")
    _record(opened, Action.SHARE_PREVIEWED, visitor, label=_label(opened, target), read=True)


def upload(*, opened: ResolvedLink, visitor: Visitor, folder: Target, name: str, fileobj, size: int) -> FileVersion:
    """A visitor drops a file into a shared folder (upload or edit links), or
    sends a new version of a shared file (edit links). A drop never replaces
    anything: a taken name is stored as "name (2)", which only the folder's
    members see. Locks held by anyone refuse it."""
    link, node = opened.link, folder.node
    if link.permission not in (Permission.UPLOAD, Permission.EDIT):
        raise Forbidden(gettext("This link does not allow uploads."), code="no_upload")
    if link.permission == Permission.UPLOAD and not node.is_folder:
        raise Forbidden(gettext("A file drop only adds new files; it cannot replace one."), code="no_overwrite")
    name = names.clean_name(name)
    if link.permission == Permission.UPLOAD and len(name.encode("utf-8")) > _DROP_NAME_BYTES:
        # Refused before anything is looked up: a taken name must not show as a "name (2)" too long to store.
        raise InvalidInput(gettext("The file's name is longer than %(DROP_NAME_BYTES)s bytes; rename it and send it again.") % {"DROP_NAME_BYTES": _DROP_NAME_BYTES}, code="invalid_name", detail={"max_bytes": _DROP_NAME_BYTES})
    space_path = [*opened.path_names, *folder.inner]
    if node.is_folder:
        path = names.join([*space_path, name])
        keep_both = link.permission == Permission.UPLOAD
    else:
        path, keep_both = names.join(space_path), False

    def record_upload(version: FileVersion) -> None:
        _record(opened, Action.SHARE_UPLOADED, visitor,
                details={"name": version.node.name, "size": size, "version": version.number})

    return file_put(actor=link.created_by, space_id=link.space_id, path=path, fileobj=fileobj, size=size,
                    keep_both=keep_both, holds_locks=False, details={"via_share": link.pk, "visitor": visitor.label},
                    before_commit=record_upload)


# Room for the " (9999)" a taken name may get.
_DROP_NAME_BYTES = names.MAX_NAME_BYTES - 8
