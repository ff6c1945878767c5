"""My devices and their backups: status, snapshots, browsing a snapshot like
a folder (downloads go to the API's content and zip URLs), revoking, and
enrollment tokens with the exact command to paste."""

from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal.backups.selectors import (
    access_device,
    access_snapshot,
    devices_visible_to,
    snapshot_list,
)
from portal.backups.services import devices as device_services
from portal.backups.services.restore import folder_list
from portal.web.common import go_to, portal_page


@portal_page
@require_GET
def device_list(request):
    devices = list(devices_visible_to(request.user))
    for device in devices:
        device.latest = snapshot_list(device).first()
    return render(request, "web/devices/list.html", {"devices": devices})


@portal_page
@require_POST
def enrollment_token_new(request):
    token, plaintext = device_services.enrollment_token_create(actor=request.user, owner=request.user,
                                                               name=request.POST.get("name", "").strip())
    return render(request, "web/devices/_enrollment.html", {
        "token": token, "command": device_services.enroll_command(plaintext)})


@portal_page
@require_GET
def device_detail(request, device_id):
    device = access_device(request.user, device_id)
    return render(request, "web/devices/detail.html", {
        "device": device, "snapshots": list(snapshot_list(device)[:200])})


@portal_page
@require_POST
def device_revoke_view(request, device_id):
    device = access_device(request.user, device_id)
    device_services.device_revoke(actor=request.user, device=device)
    messages.success(request, _("The device is revoked: it can no longer back up. Its snapshots stay."))
    return go_to(request, reverse("web:device", args=[device_id]))


def _crumbs(path: str) -> list[dict]:
    parts = [part for part in path.strip("/").split("/") if part]
    return [{"name": part, "path": "/" + "/".join(parts[:depth + 1])} for depth, part in enumerate(parts)]


@portal_page
@require_GET
def snapshot_browse(request, device_id, snapshot_id):
    device = access_device(request.user, device_id)
    snapshot = access_snapshot(device, snapshot_id)
    path = request.GET.get("path") or "/"
    listing = folder_list(snapshot, path)
    here = "/" + listing["path"].strip("/") if listing["path"].strip("/") else "/"
    api = f"/api/v1/devices/{device.pk}/snapshots/{snapshot.pk}"
    entries = sorted(listing["entries"], key=lambda e: (e.get("type") != "dir", e["name"].lower()))
    for entry in entries:
        entry["path"] = here.rstrip("/") + "/" + entry["name"]
        entry["download"] = api + ("/zip" if entry.get("type") == "dir" else "/content") + quote(entry["path"])
    return render(request, "web/devices/snapshot.html", {
        "device": device, "snapshot": snapshot, "path": here, "entries": entries, "crumbs": _crumbs(here),
        "zip_url": api + "/zip" + (quote(here) if here != "/" else "")})
