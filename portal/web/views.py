import functools
import sys

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext

from portal.api.errors import json_not_found, json_server_error
from portal.core.outage import is_outage, log_outage, unavailable_response
from portal.web.spaces import space_list


def home(request):
    """The portal's front page is the list of my spaces."""
    return space_list(request)


@functools.cache
def _favicon() -> bytes:
    return (settings.BASE_DIR / "static" / "favicon.ico").read_bytes()


def favicon(request):
    """/favicon.ico, which browsers and feed readers ask for whatever the page says."""
    return HttpResponse(_favicon(), content_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    return render(request, "404.html", status=404)


def permission_denied(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "forbidden", "message": gettext("You may not do that."),
                             "detail": {}}, status=403)
    return render(request, "403.html", status=403)


def server_error(request):
    error = sys.exc_info()[1]  # Django calls this inside its except block
    if is_outage(error):  # raised outside a view: a middleware read the session or the user
        log_outage(error, request.method, request.path)
        response = unavailable_response(request)
        response._has_been_logged = True  # the line above says it all; no traceback (django.utils.log.log_response)
        return response
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return render(request, "500.html", status=500)
