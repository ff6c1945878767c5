"""What the browser views share: rendering a PortalError in place, htmx
detection, small input helpers."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext

from portal.core.errors import InvalidInput, NotFound, PortalError


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def error_fragment(request, exc: PortalError) -> HttpResponse:
    """The error as a small alert, swapped into the page by htmx, with the error's status."""
    html = render_to_string("web/_error.html", {"message": exc.message, "code": exc.code}, request=request)
    return HttpResponse(html, status=exc.status)


def portal_page(view):
    """Signed-in only; a PortalError becomes the message in place: an alert
    fragment for htmx requests, the error page otherwise, with its status."""
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except PortalError as exc:
            if is_htmx(request):
                return error_fragment(request, exc)
            template = ("404.html" if isinstance(exc, NotFound) else
                        "403.html" if exc.status == 403 else "web/error.html")
            return render(request, template, {"message": exc.message, "code": exc.code}, status=exc.status)
    return wrapper


def int_field(data, name: str, *, required: bool = True, minimum: int | None = None) -> int | None:
    raw = (data.get(name) or "").strip()
    if not raw:
        if required:
            raise InvalidInput(gettext("%(name)s is required.") % {"name": name}, code=f"invalid_{name}")
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(gettext("%(name)s must be a whole number.") % {"name": name}, code=f"invalid_{name}") from None
    if minimum is not None and value < minimum:
        raise InvalidInput(gettext("%(name)s must be at least %(minimum)s.") % {"name": name, "minimum": minimum}, code=f"invalid_{name}")
    return value


def ids_field(data, name: str = "ids") -> list[int]:
    try:
        ids = [int(value) for value in data.getlist(name)]
    except ValueError:
        raise InvalidInput(gettext("Choose items from the list."), code="invalid_ids") from None
    if not ids:
        raise InvalidInput(gettext("Select at least one item first."), code="nothing_selected")
    return ids


def join_path(folder: str, name: str) -> str:
    return folder.rstrip("/") + "/" + name


def go_to(request, url: str) -> HttpResponse:
    """After a change: htmx follows ``HX-Redirect``; a plain form gets a 303."""
    if is_htmx(request):
        return HttpResponse(status=204, headers={"HX-Redirect": url})
    return HttpResponse(status=303, headers={"Location": url})
