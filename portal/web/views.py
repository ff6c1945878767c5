from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from portal.api.errors import json_not_found, json_server_error
from portal.spaces.selectors import spaces_visible_to


@login_required
def home(request):
    return render(request, "web/home.html", {"spaces": spaces_visible_to(request.user)})


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    return render(request, "404.html", status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return render(request, "500.html", status=500)
