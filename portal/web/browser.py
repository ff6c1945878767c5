"""A space's file manager: the listing (sort, filter, pages, list or grid),
the details drawer (info, lock, versions, links, activity), row actions
(rename, move, copy, trash) and the same actions on a multi-selection,
including the Undo of a trash.

htmx requests get the ``#workspace`` fragment (listing and drawer) with the
quota bar and the message (a toast) swapped out of band; errors come back as
an alert fragment with the error's status."""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal.core.access import Cap
from portal.core.errors import Conflict, InvalidInput, NotFound
from portal.core.pagination import KeyPaginator
from portal.files import names
from portal.files import selectors as files
from portal.files.services import tree, versions
from portal.files.selectors import Located
from portal.governance.services_sensitive import node_answer
from portal.locks import selectors as lock_selectors
from portal.previews import selectors as previews
from portal.shares.selectors import links_visible_to
from portal.spaces.selectors import space_access
from portal.web import activity, selectors
from portal.web.selectors import file_kind
from portal.web.uploads import direct_upload_max
from portal.web.common import go_to, ids_field, is_htmx, join_path, portal_page
from portal.web.spaces import quota_percent

PAGE_SIZE = 200
SORTS = {"name", "size", "modified"}


class Browse:
    """Where the user is: folder path, sort, order, filter and page (from GET or the posted state)."""

    def __init__(self, data):
        self.path = names.join(names.split_path(data.get("path") or "/", existing=True))
        self.sort = data.get("sort") if data.get("sort") in SORTS else "name"
        self.order = "desc" if data.get("order") == "desc" else "asc"
        self.q = (data.get("q") or "").replace("\x00", "").strip()[:100]  # PostgreSQL text holds no NUL
        page = data.get("page") or "1"
        self.page = int(page) if page.isascii() and page.isdigit() else 1


def fm_strings() -> dict[str, str]:
    """The words the page's scripts show (selection count, toasts, labels),
    translated here and shipped as a JSON data block: no text is made in JS."""
    return {
        "selectedOne": _("1 item selected"),
        "selectedMany": _("%(count)s items selected"),
        "itemsCount": _("%(count)s items"),
        "newName": _("New name"),
        "starred": _("“%(name)s” starred."),
        "unstarred": _("“%(name)s” is no longer starred."),
    }


def _crumbs(space, path_names: list[str]) -> list[dict]:
    crumbs = [{"name": space.name, "path": "/"}]
    for depth, name in enumerate(path_names):
        crumbs.append({"name": name, "path": names.join(path_names[:depth + 1])})
    return crumbs


def workspace_context(request, space_id, state: Browse, *, panel: Located | None = None, message: str = "") -> dict:
    """A folder page's listing, the same number of queries whatever its size
    and depth: the folder located once, one page of children, their locks in
    one lookup, their thumbnails in one; what the caller may do is read from
    the role found with the folder."""
    located = files.locate_path(request.user, space_id, state.path)
    if located.scoped:  # shared with the caller, not their space: /shared/<id>/ shows it from itself down
        raise NotFound(_("No such space."))
    folder, space, access = located.node, located.space, located.access
    if not folder.is_folder:
        raise InvalidInput(_("That is a file, not a folder."), code="not_a_folder")
    children = selectors.folder_children(folder, viewer=request.user, sort=state.sort,
                                         descending=state.order == "desc", name_contains=state.q)
    page = KeyPaginator(children, PAGE_SIZE).get_page(state.page)
    nodes = list(page.object_list)
    context = {
        "space": space, "folder": folder, "state": state, "page": page,
        "items": selectors.folder_entries(located, nodes, viewer=request.user,
                                          thumbnails=previews.thumbnail_urls([n for n in nodes if not n.is_folder])),
        "crumbs": _crumbs(space, list(located.path_names)), "message": message,
        "can_write": access.can(Cap.FILE_WRITE),
        "can_share": access.can(Cap.SHARE_CREATE),
        "can_manage": access.can(Cap.SPACE_POLICY),
        "zip_url": f"/api/v1/spaces/{space.pk}/zip" + quote(state.path if state.path != "/" else ""),
        "percent": quota_percent(space),
    }
    if panel is not None:
        context.update(panel_context(request, panel))
    return context


def panel_context(request, located: Located) -> dict:
    """The details drawer: info, versions, lock, links and the node's latest audit events."""
    node, access = located.node, located.access
    lock = lock_selectors.lock_summary(node, viewer=request.user) if not node.is_folder else None
    return {
        "node": node, "node_path": located.path, "node_kind": "folder" if node.is_folder else file_kind(node.name),
        "node_folder": names.join(list(located.path_names[:-1])),
        "lock": lock, "lock_is_mine": bool(lock and lock.get("token")),
        "versions": list(selectors.versions_of(node)[:50]) if not node.is_folder else [],
        "links": list(links_visible_to(request.user, space_id=node.space_id).filter(node=node)[:20]),
        "activity": activity.located_stream(located),
        "activity_url": reverse("web:node-activity", args=[node.space_id, node.pk]),
        "can_write": access.can(Cap.FILE_WRITE),
        "can_share": access.can(Cap.SHARE_CREATE),
        "can_break": access.can(Cap.LOCK_BREAK),
        "sensitivity": node_answer(node) if not node.is_folder else None,
    }


def _workspace(request, space_id, *, panel: Located | None = None, message: str = "", status: int = 200,
               undo: list[int] | None = None, trigger: str = "coffer:changed"):
    """The ``#workspace`` fragment after a change, with the quota bar and the
    message (a toast, with Undo for the trash) swapped out of band."""
    state = Browse(request.POST if request.method == "POST" else request.GET)
    context = workspace_context(request, space_id, state, panel=panel, message=message)
    context.update({"oob": True, "undo": undo or []})
    response = render(request, "web/browser/_workspace.html", context, status=status)
    if trigger:
        response["HX-Trigger"] = trigger
    return response


@portal_page
@require_GET
def browser(request, space_id):
    state = Browse(request.GET)
    if is_htmx(request):
        return _workspace(request, space_id, trigger="")
    context = workspace_context(request, space_id, state)
    space = context["space"]
    context.update({"part_size": settings.UPLOAD_PART_SIZE, "direct_max": direct_upload_max(),
                    "fm_strings": fm_strings(),
                    "dav_url": f"{settings.PUBLIC_URL}/dav/{quote(space.slug)}/"})
    return render(request, "web/browser/page.html", context)


@portal_page
@require_GET
def folder_paths(request, space_id):
    """The space's folder paths as ``<option>``s, for the move dialog's suggestions (asked for when it opens)."""
    access = space_access(request.user, space_id, Cap.FILE_READ)
    return render(request, "web/browser/_folder_options.html", {"folders": selectors.folders_of(access.space)})


@portal_page
@require_GET
def item_panel(request, space_id, node_id):
    located = files.locate_node(request.user, node_id)
    if located.node.space_id != int(space_id):
        raise InvalidInput(_("That item is in another space."), code="wrong_space")
    return render(request, "web/browser/_panel.html", panel_context(request, located))


@portal_page
@require_POST
def folder_new(request, space_id):
    """A new folder in the current one (``a/b`` makes both); an existing name is refused, never "created"."""
    state = Browse(request.POST)
    name = request.POST.get("name", "").strip().strip("/")
    if not name:
        raise InvalidInput(_("Type a name for the new folder."), code="invalid_name")
    folder, created = tree.folder_create(actor=request.user, space_id=space_id, path=join_path(state.path, name))
    made = names.join(list(folder.path_names)).removeprefix(state.path.rstrip("/") + "/")
    if not created:
        raise Conflict(_("A folder named “%(name)s” already exists here; pick another name.") % {"name": made},
                       code="name_taken")
    return _workspace(request, space_id, message=_("Folder “%(name)s” created.") % {"name": made})


def _destination(request, node) -> str:
    folder = request.POST.get("destination", "").strip()
    if not folder.startswith("/"):
        raise InvalidInput(_("Choose the destination folder, e.g. /Reports."), code="invalid_destination")
    return join_path(folder, request.POST.get("new_name") or node.name)


@portal_page
@require_POST
def item_action(request, space_id, node_id, action):
    """One change to one item, from its row menu or the drawer."""
    user = request.user
    located = files.locate_node(user, node_id)
    node, label = located.node, located.node.name
    if action == "rename":
        renamed = tree.node_rename(actor=user, node_id=node_id, name=request.POST.get("name", ""))
        return _workspace(request, space_id, panel=renamed if request.POST.get("drawer") else None,
                          message=_("Renamed to “%(name)s”.") % {"name": renamed.node.name})
    if action == "move":
        moved = tree.node_move(actor=user, node_id=node_id, path=_destination(request, node))
        return _workspace(request, space_id, message=_("“%(name)s” moved to %(path)s.") % {
            "name": label, "path": names.join(list(moved.path_names[:-1]))})
    if action == "copy":
        copy = tree.node_copy(actor=user, node_id=node_id, path=_destination(request, node))
        return _workspace(request, space_id, message=_("“%(name)s” copied to %(path)s.") % {
            "name": label, "path": names.join(list(copy.path_names[:-1]))})
    if action == "delete":
        tree.node_trash(actor=user, node_id=node_id)
        return _workspace(request, space_id, undo=[node.pk],
                          message=_("“%(name)s” moved to the trash.") % {"name": label})
    if action == "restore-version":
        number = request.POST.get("number", "")
        version = versions.version_restore(actor=user, node_id=node_id, number=number)
        return _workspace(request, space_id, panel=files.locate_node(user, node_id),
                          message=_("Version %(old)s restored as version %(new)s.") % {
                              "old": number, "new": version.number})
    raise InvalidInput(_("Unknown action."), code="unknown_action")


BULK_ACTIONS = {"delete", "move", "copy", "restore"}


def _bulk_one(user, node_id: int, action: str, folder: str) -> str:
    """One item of a multi-selection; its name."""
    if action == "restore":  # the Undo of a trash: the item is in the trash now
        return tree.trash_restore(actor=user, node_id=node_id).node.name
    node = files.locate_node(user, node_id).node
    if action == "delete":
        tree.node_trash(actor=user, node_id=node_id)
    elif action == "move":
        tree.node_move(actor=user, node_id=node_id, path=join_path(folder, node.name))
    else:
        tree.node_copy(actor=user, node_id=node_id, path=join_path(folder, node.name))
    return node.name


@portal_page
@require_POST
def bulk_action(request, space_id):
    """The same change to every selected item (or one item of a row menu, or a
    drag onto a folder); stops at the first refusal and says which."""
    ids, action = ids_field(request.POST), request.POST.get("action")
    folder = request.POST.get("destination", "").strip()
    if action not in BULK_ACTIONS:
        raise InvalidInput(_("Choose what to do with the selected items."), code="unknown_action")
    if action in {"move", "copy"} and not folder.startswith("/"):
        raise InvalidInput(_("Choose the destination folder, e.g. /Reports."), code="invalid_destination")
    done = [_bulk_one(request.user, node_id, action, folder) for node_id in ids]
    if len(done) == 1:
        one = {"delete": _("“%(name)s” moved to the trash."), "move": _("“%(name)s” moved to %(path)s."),
               "copy": _("“%(name)s” copied to %(path)s."), "restore": _("“%(name)s” restored.")}
        message = one[action] % {"name": done[0], "path": folder}
    else:
        many = {"delete": _("%(count)s items moved to the trash."), "move": _("%(count)s items moved to %(path)s."),
                "copy": _("%(count)s items copied to %(path)s."), "restore": _("%(count)s items restored.")}
        message = many[action] % {"count": len(done), "path": folder}
    return _workspace(request, space_id, message=message, undo=ids if action == "delete" else None)


@portal_page
@require_GET
def trash(request, space_id):
    access = space_access(request.user, space_id, Cap.FILE_READ)
    items = selectors.trash_entries(files.trash_list(access.space)[:500])
    return render(request, "web/browser/trash.html", {
        "space": access.space, "items": items, "can_write": access.can(Cap.FILE_WRITE),
        "can_purge": access.can(Cap.TRASH_PURGE), "trash_days": settings.TRASH_DAYS})


@portal_page
@require_POST
def trash_action(request, space_id, node_id, action):
    if action == "restore":
        restored = tree.trash_restore(actor=request.user, node_id=node_id)
        message = _("“%(name)s” restored.") % {"name": restored.node.name}
    elif action == "purge":
        tree.trash_purge(actor=request.user, node_id=node_id)
        message = _("Deleted for good.")
    else:
        raise InvalidInput(_("Unknown action."), code="unknown_action")
    from django.contrib import messages as flash

    flash.success(request, message)
    return go_to(request, reverse("web:trash", args=[space_id]))
