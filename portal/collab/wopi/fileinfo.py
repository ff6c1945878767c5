"""What CheckFileInfo and PutRelativeFile tell the office server about a file and its user."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from django.conf import settings
from django.urls import reverse

from portal.collab.wopi.context import WopiRequest
from portal.collab.wopi.links import extension_of, wopi_src
from portal.collab.wopi.selectors import lock_state, modified_stamp, sha256_b64
from portal.files.selectors import Located
from portal.web.viewer import folder_url


def _page(node_id: int) -> str:
    return settings.PUBLIC_URL + reverse("wopi-office", args=[node_id])


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def check_file_info(wopi: WopiRequest) -> dict:
    located, user = wopi.located, wopi.user
    node, version = located.node, located.node.current_version
    # Someone else's lock, a WebDAV client's or a co-editing session: the editor opens read-only
    # rather than failing at its first Lock.
    can_write = wopi.may_write() and not lock_state(node, user).others
    ext = extension_of(node.name)
    info = {
        "BaseFileName": node.name,
        "FileExtension": f".{ext}" if ext else "",
        "OwnerId": str(node.created_by_id or f"space-{located.space.pk}"),
        "Size": version.size if version is not None else 0,
        "Version": str(version.number) if version is not None else "0",
        "LastModifiedTime": modified_stamp(node),
        "UserId": str(user.pk),
        "UserFriendlyName": user.get_full_name() or user.get_username(),
        "IsAnonymousUser": False,
        "UserCanWrite": can_write,
        "ReadOnly": not can_write,
        "UserCanRename": can_write and not located.is_scope_root,
        "UserCanNotWriteRelative": not can_write,
        "SupportsLocks": True,
        "SupportsGetLock": True,
        "SupportsExtendedLockLength": True,
        "SupportsUpdate": True,
        "SupportsRename": True,
        "SupportsDeleteFile": False,
        "SupportsUserInfo": False,
        "BreadcrumbBrandName": "Coffer",
        "BreadcrumbBrandUrl": settings.PUBLIC_URL + "/",
        "BreadcrumbFolderName": located.path_names[-2] if len(located.path_names) > 1 else located.space.name,
        "BreadcrumbFolderUrl": settings.PUBLIC_URL + folder_url(located),
        "CloseUrl": settings.PUBLIC_URL + folder_url(located),
        "HostEditUrl": _page(node.pk),
        "HostViewUrl": _page(node.pk),
        "PostMessageOrigin": _origin(settings.PUBLIC_URL),
    }
    digest = sha256_b64(node)
    if digest:
        info["SHA256"] = digest
    return info


def relative_file_info(located: Located, access_token: str) -> dict:
    """PutRelativeFile's answer: the new file's name and its WOPI URL with a token of its own."""
    node = located.node
    return {"Name": node.name, "Url": f"{wopi_src(node.pk)}?access_token={quote(access_token, safe='')}",
            "HostViewUrl": _page(node.pk), "HostEditUrl": _page(node.pk)}
