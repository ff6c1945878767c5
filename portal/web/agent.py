"""``/agent/``: the desktop agent's build (a wheel, see portal/backups/agent_dist.py)
with its version and SHA-256, and the file itself. Signed-in only, like the
enrollment it leads to; only the file names the build's manifest lists are
ever served (a name is matched, never joined into a path as given)."""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from portal.backups import agent_dist
from portal.core.errors import NotFound
from portal.web.common import portal_page


def agent_builds() -> list[dict]:
    """The agent builds this portal offers (none if `make` has not built one)."""
    return agent_dist.published(settings.AGENT_DIST_DIR)


@portal_page
@require_GET
def agent_index(request):
    return render(request, "web/agent/index.html", {"builds": agent_builds()})


@portal_page
@require_GET
def agent_file(request, name):
    build = next((build for build in agent_builds() if build["name"] == name), None)
    if build is None:
        raise NotFound(_("There is no such agent file; download it from the agent page."), code="agent_not_found")
    response = FileResponse(open(settings.AGENT_DIST_DIR / build["name"], "rb"), as_attachment=True,
                            filename=build["name"], content_type="application/zip")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-cache"
    return response
