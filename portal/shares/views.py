"""Public pages of share links, at /s/{token}.

Every answer carries no-referrer, a strict CSP, nosniff and no-store; files
are attachments. The order in each view: open the link (404 / 410), check
the visitor may use it (audience, password, code), find the node inside it,
then one visit service.
"""

from __future__ import annotations

import functools

from django.contrib.auth.views import redirect_to_login
from django.middleware.csrf import CsrfViewMiddleware, RejectRequest
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django.utils.translation import gettext

from portal.core.errors import Forbidden, InvalidInput, NotFound, PortalError, Throttled
from portal.files.download_api import serve, starts_download, zip_response
from portal.files.services import downloads
from portal.governance.services_sensitive import refuse_in_shared_folder
from portal.scanning.selectors import ensure_not_quarantined
from portal.collab.texts import coeditable_name
from portal.collab.texts import too_large as texts_too_large
from portal.shares import previews, visits
from portal.shares.models import Audience, Permission, ShareLink
from portal.shares.selectors import ResolvedLink, Target, link_target
from portal.shares.visits import LinkGone, Visitor

CSP = ("default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
_DOWNLOADS = (Permission.DOWNLOAD, Permission.EDIT)


def _harden(response: HttpResponse) -> HttpResponse:
    response["Referrer-Policy"] = "no-referrer"
    response["Content-Security-Policy"] = CSP
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Frame-Options"] = "DENY"
    response["Cache-Control"] = "private, no-store"
    return response


def _error_page(request, exc: PortalError, link: ShareLink | None = None) -> HttpResponse:
    template = "shares/gone.html" if isinstance(exc, LinkGone) else "shares/error.html"
    response = render(request, template, {"message": exc.message, "code": exc.code, "link": link,
                                          "state": getattr(exc, "state", "")}, status=exc.status)
    if isinstance(exc, Throttled) or exc.status == 429:
        response["Retry-After"] = str(exc.detail.get("retry_after", 60))
    return response


_csrf = CsrfViewMiddleware(lambda request: None)


def _check_form_token(request) -> None:
    """CSRF for share pages. With ``Referrer-Policy: no-referrer`` browsers
    send ``Origin: null`` and no Referer, which Django's middleware refuses;
    so these views check the CSRF token itself (the real defence: a foreign
    site cannot read it) and refuse only an Origin that names another site."""
    if request.method in ("GET", "HEAD") or getattr(request, "_dont_enforce_csrf_checks", False):
        return
    origin = request.META.get("HTTP_ORIGIN")
    try:
        if origin not in (None, "null") and not _csrf._origin_verified(request):
            raise RejectRequest("the form was sent from another site")
        _csrf._check_token(request)
    except RejectRequest:
        raise Forbidden(gettext("This form has expired or came from another site. Reload the page and try again."),
                        code="csrf_failed") from None


def public(view):
    """Render a portal error as the link's error page, and harden every answer."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request, token, *args, **kwargs):
        try:
            _check_form_token(request)
            response = view(request, token, *args, **kwargs)
        except PortalError as exc:
            if request.headers.get("Accept", "").startswith("application/json"):
                response = JsonResponse(exc.as_dict(), status=exc.status)
            else:
                response = _error_page(request, exc)
        return _harden(response)

    return wrapper


# --- who is visiting ------------------------------------------------------------------

def _session_key(link: ShareLink) -> str:
    return f"share:{link.pk}"


def _unlocked(request, link: ShareLink) -> dict | None:
    state = request.session.get(_session_key(link))
    return state if state and state.get("epoch") == link.unlock_epoch else None


def _visitor(request, link: ShareLink) -> Visitor:
    user = request.user if request.user.is_authenticated else None
    state = _unlocked(request, link) or {}
    return Visitor(user=user, email=state.get("email", ""))


def _remember(request, link: ShareLink, *, email: str = "", password: bool = False) -> None:
    state = dict(_unlocked(request, link) or {"epoch": link.unlock_epoch})
    if email:
        state["email"] = email
    if password:
        state["password"] = True
    request.session[_session_key(link)] = state
    if request.session.session_key:
        request.session.cycle_key()  # a fresh session id once access was proven (a new session gets one anyway)


def _missing_proof(request, link: ShareLink, visitor: Visitor) -> str | None:
    """What the visitor must still prove: "login", "code", "password" or None."""
    if link.audience == Audience.INTERNAL and visitor.user is None:
        return "login"
    if link.audience == Audience.PEOPLE and not visits.audience_allows(link, visitor):
        return "code"
    if link.has_password and not (_unlocked(request, link) or {}).get("password"):
        return "password"
    return None


def _admitted(request, token: str) -> tuple[ResolvedLink, Visitor]:
    """The open link and its visitor, for everything but the page itself."""
    opened = visits.link_open(token)
    visitor = _visitor(request, opened.link)
    if _missing_proof(request, opened.link, visitor):
        raise Forbidden(gettext("Open the link's page first and unlock it."), code="not_unlocked")
    return opened, visitor


# --- pages ------------------------------------------------------------------------------

def _unlock_page(request, opened: ResolvedLink, needs: str, *, error: str = "", status: int = 200,
                 email: str = "", code_sent: bool = False, retry_after: int = 0) -> HttpResponse:
    response = render(request, "shares/unlock.html", {
        "link": opened.link, "needs": needs, "error": error, "email": email, "code_sent": code_sent,
        "name": opened.node.name, "retry_after": retry_after}, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@public
@require_http_methods(["GET", "HEAD", "POST"])
def link_page(request, token: str, path: str = ""):
    opened = visits.link_open(token)
    visitor = _visitor(request, opened.link)
    if request.method == "POST":
        return _answer(request, opened, visitor)
    needs = _missing_proof(request, opened.link, visitor)
    if needs == "login":
        return redirect_to_login(request.get_full_path())
    if needs:
        return _unlock_page(request, opened, needs)
    target = _target(opened, path)
    visits.view_record(opened=opened, visitor=visitor, target=target)
    return render(request, _template(opened, target), _page_context(opened, target, token, visitor))


def _answer(request, opened: ResolvedLink, visitor: Visitor) -> HttpResponse:
    """The password and security-code forms post here."""
    form, link = request.POST, opened.link
    page = reverse("share-page", args=[request.resolver_match.kwargs["token"]])
    try:
        if "password" in form:
            visits.password_try(opened=opened, visitor=visitor, password=form["password"])
            _remember(request, link, password=True)
            return HttpResponseRedirect(page, status=303)
        if "code" in form:
            proven = visits.code_try(opened=opened, visitor=visitor, email=form.get("email", ""), code=form["code"])
            _remember(request, link, email=proven.email)
            return HttpResponseRedirect(page, status=303)
        if "email" in form:
            visits.code_send(opened=opened, visitor=visitor, email=form["email"])
            return _unlock_page(request, opened, "code", email=form["email"].strip(), code_sent=True)
    except (Forbidden, InvalidInput, Throttled) as exc:
        # A throttled visitor keeps the form: it waits (the page counts down), then tries again.
        needs = "password" if "password" in form else "code"
        retry_after = exc.detail.get("retry_after", 60) if isinstance(exc, Throttled) else 0
        return _unlock_page(request, opened, needs, error=exc.message, status=exc.status,
                            email=form.get("email", "").strip(), code_sent="code" in form, retry_after=retry_after)
    raise InvalidInput(gettext("Send a password, an email address or a code."), code="empty_form")


def _target(opened: ResolvedLink, path: str) -> Target:
    """The node at ``path`` in the link. A file drop shows nothing of its
    folder, so no path below it exists for its visitors."""
    if opened.link.permission == Permission.UPLOAD and path:
        raise NotFound(gettext("Nothing here: this link only lets you send files."))
    return link_target(opened, path)


def _template(opened: ResolvedLink, target: Target) -> str:
    if opened.link.permission == Permission.UPLOAD:
        return "shares/drop.html"
    return "shares/folder.html" if target.node.is_folder else "shares/file.html"


def _page_context(opened: ResolvedLink, target: Target, token: str, visitor: Visitor) -> dict:
    link, node = opened.link, target.node
    context = {"link": link, "node": node, "token": token, "path": target.inner_path,
               "name": node.name or opened.node.name, "crumbs": _crumbs(opened, target),
               "can_download": link.permission in _DOWNLOADS,
               "can_upload": link.permission in (Permission.UPLOAD, Permission.EDIT),
               "can_preview": link.permission != Permission.UPLOAD}
    if link.permission == Permission.UPLOAD:
        return context
    if node.is_folder:
        context["entries"] = [(child, "/".join([*target.inner, child.name])) for child in
                              node.children.filter(trashed_at__isnull=True).order_by("-kind", "name_key")[:1000]]
        return context
    context["content_type"] = downloads.content_type_for(node.name)
    # The co-editor opens a text file shared by itself through an edit link.
    context["can_coedit"] = (link.permission == Permission.EDIT and not target.inner and coeditable_name(node.name)
                             and not texts_too_large(node.size))
    if target.quarantined():  # no button that leads only to a refusal
        context.update(quarantined=True, can_download=False, can_preview=False)
        return context
    context["viewing"] = _viewing(opened, target, token, visitor)
    return context


def _viewing(opened: ResolvedLink, target: Target, token: str, visitor: Visitor):
    """The portal's viewer, fed with watermarked page images instead of the
    original bytes (portal.previews.viewing; the same partial templates)."""
    from portal.previews.viewing import Sources, viewing_for

    args = [token, target.inner_path] if target.inner_path else [token]
    sources = Sources(page_image=reverse("share-preview", args=args) + "?page=")
    node = target.node
    try:
        viewing = viewing_for(node, node.current_version, sources, blocked="")  # _page_context checked
    except PortalError:
        return None
    if viewing.kind == "image" and previews.kind_of(node) != "image":
        viewing.kind = "none"   # an SVG or AVIF has no page image: no broken <img> asking for one
    if viewing.html:  # text shown in the page is its preview
        visits.preview_record(opened=opened, visitor=visitor, target=target)
    if viewing.shows_pdf:
        viewing.pages = previews.page_count(node, node.current_version)
    return viewing


def _crumbs(opened: ResolvedLink, target: Target) -> list[tuple[str, str]]:
    crumbs, parts = [(opened.node.name or "/", "")], []
    for name in target.inner:
        parts.append(name)
        crumbs.append((name, "/".join(parts)))
    return crumbs


# --- bytes ---------------------------------------------------------------------------------

def _file_in(opened: ResolvedLink, path: str) -> tuple[Target, object]:
    target = link_target(opened, path)
    node = target.node
    if node.is_folder:
        raise InvalidInput(gettext("This is a folder; download it as a zip."), code="not_a_file")
    if node.current_version is None:
        raise NotFound(gettext("This file has no content yet."))
    if target.maybe_quarantined:
        ensure_not_quarantined(node.current_version)
    if node.pk != opened.node.pk and target.maybe_labelled:  # inside a shared folder: its own labels count
        refuse_in_shared_folder(node, opened.link.audience)
    return target, node.current_version


@public
@require_http_methods(["GET", "HEAD"])
def download(request, token: str, path: str = ""):
    opened, visitor = _admitted(request, token)
    link = opened.link
    if link.permission not in _DOWNLOADS:
        raise Forbidden(gettext("This link allows previews only; it has no download."), code="no_download")
    target, version = _file_in(opened, path)
    response = serve(request, downloads.download_plan(target.node, version))
    if starts_download(request, response) or _unearned_resume(request, link, version, response):
        try:
            visits.download_record(opened=opened, visitor=visitor, target=target, version=version)
        except BaseException:
            response.close()  # neither the bytes nor a presigned URL leave after a refusal
            raise
        if link.max_downloads is not None:  # this browser may resume it for free
            request.session[_resume_key(link)] = version.pk
    return response


def _preview_key(link: ShareLink) -> str:
    return f"share-preview:{link.pk}"


def _resume_key(link: ShareLink) -> str:
    return f"share-download:{link.pk}"


def _unearned_resume(request, link: ShareLink, version, response) -> bool:
    """A range from a later byte is a resumed part, free, only for the browser
    that started this download; on a link with a download limit, anyone
    else's ("bytes=1-" again and again) counts as a download of its own."""
    return (request.method == "GET" and response.status_code == 206 and link.max_downloads is not None
            and request.session.get(_resume_key(link)) != version.pk)


@public
@require_http_methods(["GET", "HEAD"])
def download_zip(request, token: str, path: str = ""):
    opened, visitor = _admitted(request, token)
    if opened.link.permission not in _DOWNLOADS:
        raise Forbidden(gettext("This link allows previews only; it has no download."), code="no_download")
    target = link_target(opened, path)
    if not target.node.is_folder:
        raise InvalidInput(gettext("This is a file; download it directly."), code="not_a_folder")
    archive = downloads.folder_zip(target.node)
    if request.method == "GET":
        visits.download_record(opened=opened, visitor=visitor, target=target, version=None, zipped=True)
    return zip_response(request, archive)


@public
@require_http_methods(["GET"])
def preview(request, token: str, path: str = ""):
    opened, visitor = _admitted(request, token)
    link = opened.link
    if link.permission == Permission.UPLOAD:
        raise NotFound(gettext("Nothing to preview here."))
    target, version = _file_in(opened, path)
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        raise InvalidInput(gettext("page is a whole number."), code="invalid_page") from None
    rendition = previews.rendition(target.node, version, watermark=link.watermark, page=page)
    # One preview per opening, however many pages are turned; a later page
    # is free only to the browser that opened this version from page 1.
    if page == 1 or request.session.get(_preview_key(link)) != version.pk:
        visits.preview_record(opened=opened, visitor=visitor, target=target)
        request.session[_preview_key(link)] = version.pk
    response = HttpResponse(rendition.body, content_type=rendition.content_type)
    response["Content-Disposition"] = "inline"
    response["X-Preview-Pages"] = str(rendition.pages)
    return response


@public
@require_http_methods(["POST"])
def upload(request, token: str, path: str = ""):
    opened, visitor = _admitted(request, token)
    link = opened.link
    target = _target(opened, path)
    files = request.FILES.getlist("file")
    if not files:
        raise InvalidInput(gettext("Choose at least one file to send."), code="no_file")
    received = []
    for uploaded in files:
        version = visits.upload(opened=opened, visitor=visitor, folder=target, name=uploaded.name,
                                fileobj=uploaded, size=uploaded.size)
        # A drop's visitor hears back only the name they sent: the one it was
        # stored under ("name (2)") would tell them what the folder holds.
        name = uploaded.name if link.permission == Permission.UPLOAD else version.node.name
        received.append({"name": name, "size": version.size})
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"received": len(received), "files": received}, status=201)
    return render(request, "shares/uploaded.html", {"link": link, "token": token, "files": received,
                                                    "path": path}, status=201)
