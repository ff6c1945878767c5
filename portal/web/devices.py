"""My devices and their backups: status, snapshots, browsing a snapshot like
a folder (downloads go to the API's content and zip URLs), revoking, and
enrollment tokens with the exact command to paste."""

from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal.backups.selectors import (
    access_device,
    access_snapshot,
    device_activity,
    devices_visible_to,
    snapshot_home,
    snapshot_list,
)
from portal.backups.services import devices as device_services
from portal.backups.services.restore import folder_list
from portal.core.errors import NotFound
from portal.web.agent import agent_builds
from portal.web.common import go_to, portal_page


def _system_of(request) -> str:
    """The install instructions to open first: the system the browser runs on."""
    agent = request.headers.get("User-Agent", "")
    if "Windows" in agent:
        return "windows"
    return "macos" if "Macintosh" in agent or "Mac OS X" in agent else "linux"


@portal_page
@require_GET
def device_list(request):
    devices = list(devices_visible_to(request.user))
    for device in devices:
        device.latest = snapshot_list(device).first()
        device.activity = device_activity(device)
    builds = agent_builds()
    return render(request, "web/devices/list.html", {
        "devices": devices, "build": builds[0] if builds else None, "system": _system_of(request)})


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
    device.activity = device_activity(device)
    return render(request, "web/devices/detail.html", {
        "device": device, "snapshots": list(snapshot_list(device)[:200])})


@portal_page
@require_POST
def device_revoke_view(request, device_id):
    device = access_device(request.user, device_id)
    device_services.device_revoke(actor=request.user, device=device)
    messages.success(request, _("The device is revoked: it can no longer back up. Its snapshots stay."))
    return go_to(request, reverse("web:device", args=[device_id]))


def _crumbs(path: str, home: str) -> list[dict]:
    """The way back up, from the snapshot's backed-up folder (one crumb) when inside it."""
    parts = [part for part in path.strip("/").split("/") if part]
    top = [part for part in home.split("/") if part]
    start = len(top) if top and parts[:len(top)] == top else 0
    crumbs = [{"name": "/" + "/".join(top), "path": "/" + "/".join(top)}] if start else []
    return crumbs + [{"name": part, "path": "/" + "/".join(parts[:depth + 1])}
                     for depth, part in enumerate(parts) if depth >= start]


def _listing(snapshot, asked: str | None, home: str) -> dict:
    """The folder asked for; by default the snapshot's backed-up folder (its root if that is gone)."""
    if asked:
        return folder_list(snapshot, asked)
    try:
        return folder_list(snapshot, home or "/")
    except NotFound:
        return folder_list(snapshot, "/")


@portal_page
@require_GET
def snapshot_browse(request, device_id, snapshot_id):
    device = access_device(request.user, device_id)
    snapshot = access_snapshot(device, snapshot_id)
    home = snapshot_home(snapshot)
    listing = _listing(snapshot, request.GET.get("path"), home)
    here = "/" + listing["path"].strip("/") if listing["path"].strip("/") else "/"
    api = f"/api/v1/devices/{device.pk}/snapshots/{snapshot.pk}"
    entries = sorted(listing["entries"], key=lambda e: (e.get("type") != "dir", e["name"].lower()))
    for entry in entries:
        entry["path"] = here.rstrip("/") + "/" + entry["name"]
        entry["download"] = api + ("/zip" if entry.get("type") == "dir" else "/content") + quote(entry["path"])
        entry["modified"] = parse_datetime(entry["mtime"]) if entry.get("mtime") else None
    return render(request, "web/devices/snapshot.html", {
        "device": device, "snapshot": snapshot, "path": here, "entries": entries, "crumbs": _crumbs(here, home),
        "zip_url": api + "/zip" + (quote(here) if here != "/" else "")})
