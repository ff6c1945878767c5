"""What the file manager's browser tests share: storing a file, opening a
folder, finding a row, choosing from a row's menu, reading the rows' names."""

from __future__ import annotations

import io

from playwright.sync_api import expect

from portal.files.models import Node
from portal.files.services.direct import file_put


def put(user, space, path: str, body: bytes = b"hello\n") -> Node:
    return file_put(actor=user, space_id=space.pk, path=path, fileobj=io.BytesIO(body), size=len(body)).node


def open_folder(page, space, path: str = "/"):
    page.goto(f"/spaces/{space.pk}/?path={path}")
    expect(page.locator("#workspace tr.fm-row").first).to_be_visible()


def row(page, name: str):
    return page.locator("#workspace tr.fm-row", has=page.locator("a.open", has_text=name))


def menu(page, name: str, action: str):
    row(page, name).get_by_role("button", name=f"Actions for {name}").click()
    page.locator("#row-menu").get_by_role("menuitem", name=action, exact=True).click()


def row_names(page) -> list[str]:
    return page.locator("#workspace tr.fm-row").evaluate_all("(rows) => rows.map((row) => row.dataset.name)")
