"""The co-editor's page in Chromium (templates/collab/editor.html and
static/src/coedit/): CodeMirror over a Yjs document shared through the
co-editing websocket server (a real one, started here on the test database),
presence, the Markdown preview, the read-only mode of a viewer, both
languages, a phone's width; and the ways in: "Edit together" in the file
list's row menu, the details drawer and the viewer, only for text files the
user may change."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from portal.collab.wopi.discovery import discovery_forget
from portal.files.services.direct import file_put
from portal.spaces.services import member_add, member_change_role, member_remove, space_create
from tests.browser.test_page_walk import VISIBLE_TEXT, english_words
from tests.support import coedit

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 360, "height": 740}
NOTES = "# 会议记录\n\n第一项：预算。\n"


@pytest.fixture(autouse=True)
def _portal_urls(settings, live_server):
    if not (ROOT / "static" / "vendor" / "coedit" / "editor.js").exists():
        pytest.fail("static/vendor/ is not built: run `make static/vendor/.built` (make test does)")
    settings.PUBLIC_URL = live_server.url


@pytest.fixture
def coedit_server(live_server, settings):
    """The co-editing websocket server (``python -m portal.collab.server``) on a free port and the
    test database, as tests/collab starts it; the editor pages are told its address."""
    port = coedit.free_port()
    process = subprocess.Popen([sys.executable, "-m", "portal.collab.server", "--bind", f"127.0.0.1:{port}"],
                               cwd=ROOT, env=coedit.server_env(), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=None, start_new_session=True)
    server = coedit.CoeditServer(port=port, process=process)
    try:
        coedit._serving(server)
        settings.COEDIT_URL = server.ws_url
        yield server
    finally:
        server.stop()


@pytest.fixture
def team(alice, bob, make_user):
    """Alice's space: bob may edit, carol only read; a Markdown file, a text file and a picture."""
    carol = make_user(username="carol")
    space = space_create(actor=alice, name="Team")
    member_add(actor=alice, space_id=space.pk, username="bob", role="editor")
    member_add(actor=alice, space_id=space.pk, username="carol", role="viewer")
    nodes = {}
    for name, data in {"notes.md": NOTES.encode(), "todo.txt": "买牛奶\n".encode(),
                       "photo.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 64}.items():
        nodes[name] = file_put(actor=alice, space_id=space.pk, path=f"/Docs/{name}", fileobj=io.BytesIO(data),
                               size=len(data)).node
    return space, nodes, carol


def _edit_url(node) -> str:
    return reverse("collab:edit", args=[node.space_id, node.pk])


def _open_editor(page, node, *, synced: bool = True):
    page.goto(_edit_url(node))
    expect(page.locator("#coedit-title")).to_have_text(node.name)
    expect(page.locator("#coedit-editor .cm-content")).to_be_attached()
    if synced:
        expect(page.locator("#coedit-status")).to_have_attribute("data-state", "connected")
    return page


def _in_chinese(page, base_url: str) -> None:
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base_url}])
    page.context.set_extra_http_headers({"Accept-Language": "zh-CN,zh;q=0.9"})


def test_the_editor_shows_the_file_its_preview_who_is_here_and_the_connection(
        signed_in_page, alice, team, coedit_server, console_errors, screenshot):
    _space, nodes, _carol = team
    page = _open_editor(signed_in_page(alice), nodes["notes.md"])
    content = page.locator("#coedit-editor .cm-content")
    expect(content).to_contain_text("第一项：预算。")
    expect(content).to_have_attribute("aria-label", "Text of notes.md")
    expect(page.locator("#coedit-preview h1")).to_have_text("会议记录")
    expect(page.locator("#coedit-status")).to_have_text("Connected: changes are saved and shared as you type")
    me = page.locator('#coedit-people li[data-name="alice"]')
    expect(me).to_contain_text("(you)")
    expect(page.locator("#coedit-readonly")).to_have_count(0)
    # Typed with the keyboard: the preview follows; an injected script never runs or renders.
    content.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n## 第二项\n\n<script>window.pwned = 1</script><img src=x onerror=\"window.pwned=2\">\n")
    expect(page.locator("#coedit-preview h2")).to_have_text("第二项")
    assert page.locator("#coedit-preview script, #coedit-preview img").count() == 0
    assert page.evaluate("window.pwned") is None
    assert "## 第二项" in page.evaluate("window.coedit.doc.getText('content').toString()")
    screenshot(page, "editor-markdown")
    # Tab leaves the editor (no keyboard trap); Ctrl+F opens CodeMirror's search in the page's words.
    content.click()
    page.keyboard.press("Control+f")
    expect(page.locator(".cm-search input[name=search]")).to_have_attribute("placeholder", "Find")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert page.evaluate("!document.querySelector('#coedit-editor').contains(document.activeElement)")


def test_the_editor_reads_in_chinese_and_fits_a_phone(signed_in_page, alice, team, coedit_server, live_server,
                                                      console_errors, screenshot):
    _space, nodes, _carol = team
    page = signed_in_page(alice)
    _in_chinese(page, live_server.url)
    _open_editor(page, nodes["notes.md"])
    expect(page.locator("#coedit-people li[data-name=alice]")).to_contain_text("（您）")
    page.locator("#coedit-editor .cm-content").click()
    page.keyboard.press("Control+f")
    expect(page.locator(".cm-search input[name=search]")).to_have_attribute("placeholder", "查找")
    words = english_words(page.evaluate(VISIBLE_TEXT))
    assert set(words) <= {"alice", "notes", "Docs", "Team"}, words
    screenshot(page, "zh-editor")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(50)  # one layout pass at the new width
    wide = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert wide[0] <= wide[1], f"scrolls sideways at 360 px: {wide}"
    editor, preview = page.locator("#coedit-editor").bounding_box(), page.locator("#coedit-preview").bounding_box()
    assert preview["y"] >= editor["y"] + editor["height"] - 1, "on a phone the preview is under the editor"
    screenshot(page, "phone-editor")


def test_a_reader_sees_why_and_cannot_type(signed_in_page, team, coedit_server, console_errors, screenshot):
    _space, nodes, carol = team
    page = _open_editor(signed_in_page(carol), nodes["todo.txt"])
    expect(page.locator("#coedit-readonly")).to_be_visible()
    expect(page.locator("#coedit-people li[data-name=carol]")).to_contain_text("(read only)")
    content = page.locator("#coedit-editor .cm-content")
    expect(content).to_contain_text("买牛奶")
    expect(content).to_have_attribute("contenteditable", "false")
    content.focus()   # still reachable with the keyboard, to read
    page.keyboard.type("not mine")
    page.keyboard.press("Enter")
    expect(content).to_contain_text("买牛奶")
    assert "not mine" not in page.evaluate("window.coedit.doc.getText('content').toString()")
    expect(page.locator("#coedit-preview")).to_have_count(0)   # not Markdown: no preview
    screenshot(page, "editor-read-only")


def test_a_new_role_reloads_the_editor_and_lost_access_stops_it(signed_in_page, alice, team, coedit_server,
                                                                console_errors):
    space, nodes, carol = team
    page = _open_editor(signed_in_page(carol), nodes["todo.txt"])
    expect(page.locator("#coedit-readonly")).to_be_visible()
    member_change_role(actor=alice, space_id=space.pk, user_id=carol.pk, role="editor")
    # The server ends the read-only connection (4409); the page loads again, now for an editor.
    expect(page.locator("#coedit-readonly")).to_have_count(0, timeout=20_000)
    expect(page.locator("#coedit-status")).to_have_attribute("data-state", "connected")
    content = page.locator("#coedit-editor .cm-content")
    expect(content).to_have_attribute("contenteditable", "true")
    member_remove(actor=alice, space_id=space.pk, user_id=carol.pk)
    # 4403: no reconnecting, a message, and the editor takes no more typing.
    expect(page.locator("#coedit-status")).to_have_attribute("data-state", "closed", timeout=20_000)
    expect(page.locator("#coedit-status")).to_have_text("Disconnected")
    expect(page.locator("#coedit-alert")).to_have_text(
        "You no longer have access to this file, so the editor has stopped. Changes made since then were not saved.")
    expect(content).to_have_attribute("contenteditable", "false")
    assert page.evaluate("window.coedit.provider.shouldConnect") is False


def test_a_reconnection_with_a_spent_ticket_is_refused_and_said_so(signed_in_page, alice, team, coedit_server,
                                                                   console_errors):
    _space, nodes, _carol = team
    page = _open_editor(signed_in_page(alice), nodes["notes.md"])
    # As after a network cut that outlasted the ticket: the provider comes back with one the server refuses.
    page.evaluate("""() => { const p = window.coedit.provider; p.disconnect();
        p.params = { ticket: 'x' + p.params.ticket }; p.connect(); }""")
    expect(page.locator("#coedit-status")).to_have_attribute("data-state", "closed")
    expect(page.locator("#coedit-status")).to_have_attribute("data-code", "4400")
    expect(page.locator("#coedit-alert")).to_have_text("This editing session has expired. Reload the page to go on.")
    expect(page.locator("#coedit-editor .cm-content")).to_have_attribute("contenteditable", "false")
    assert page.evaluate("window.coedit.provider.shouldConnect") is False


def test_two_people_type_into_one_file_and_see_each_other(signed_in_page, alice, bob, team, coedit_server,
                                                          console_errors):
    space, nodes, _carol = team
    first = _open_editor(signed_in_page(alice), nodes["notes.md"])
    second = _open_editor(signed_in_page(bob), nodes["notes.md"])
    for page, other in ((first, "bob"), (second, "alice")):
        expect(page.locator(f'#coedit-people li[data-name="{other}"]')).to_be_visible()
    first.locator("#coedit-editor .cm-content").click()
    first.keyboard.press("Control+End")
    first.keyboard.type("甲写的一行\n")
    second.locator("#coedit-editor .cm-content").click()
    second.keyboard.press("Control+Home")
    second.keyboard.type("乙写的一行\n")
    for page in (first, second):
        content = page.locator("#coedit-editor .cm-content")
        expect(content).to_contain_text("甲写的一行")
        expect(content).to_contain_text("乙写的一行")
    # The other's caret carries their name.
    expect(first.locator(".cm-ySelectionInfo", has_text="bob")).to_be_attached()
    text = "window.coedit.doc.getText('content').toString()"
    assert first.evaluate(text) == second.evaluate(text)
    # Meanwhile the file list says who is editing it, instead of a lock's owner, and offers no Lock.
    watcher = signed_in_page(alice)  # a third window of hers
    watcher.goto(f"/spaces/{space.pk}/?path=/Docs")
    row = watcher.locator('tr.fm-row[data-name="notes.md"]')
    expect(row.locator(".badge.coedit")).to_have_text("Being edited by alice, bob")
    expect(row).to_have_attribute("data-lock", "coedit")
    row.locator(".row-menu-button").click()
    expect(watcher.locator("#row-menu").get_by_role("menuitem", name="Edit together")).to_be_visible()
    for action in ("Lock", "Unlock", "Open in office"):
        expect(watcher.locator("#row-menu").get_by_role("menuitem", name=action, exact=True)).to_be_hidden()


def test_edit_together_is_offered_for_text_files_to_those_who_may_change_them(
        signed_in_page, alice, team, coedit_server, console_errors):
    space, nodes, carol = team
    page = signed_in_page(alice)
    page.goto(f"/spaces/{space.pk}/?path=/Docs")
    menu = page.locator("#row-menu")
    edit_item = menu.get_by_role("menuitem", name="Edit together")

    def row(name):
        return page.locator(f'tr.fm-row[data-name="{name}"]')

    row("photo.png").locator(".row-menu-button").click()
    expect(menu).to_be_visible()
    expect(edit_item).to_be_hidden()
    page.keyboard.press("Escape")
    expect(row("notes.md")).to_have_attribute("data-coedit", _edit_url(nodes["notes.md"]))
    row("notes.md").locator(".row-menu-button").click()
    menu.get_by_role("menuitem", name="Details").click()
    expect(page.locator("#drawer #panel-coedit")).to_have_attribute("href", _edit_url(nodes["notes.md"]))
    page.locator("[data-drawer-close]").click()
    row("notes.md").locator(".row-menu-button").click()
    expect(edit_item).to_be_visible()
    edit_item.click()
    expect(page).to_have_url(f"{page.url.split('/spaces/')[0]}{_edit_url(nodes['notes.md'])}")
    expect(page.locator("#coedit-status")).to_have_attribute("data-state", "connected")
    # The viewer and the details drawer offer it too.
    page.goto(reverse("web:view", args=[space.pk, nodes["todo.txt"].pk]))
    expect(page.locator("#viewer-coedit")).to_have_attribute("href", _edit_url(nodes["todo.txt"]))
    page.goto(reverse("web:view", args=[space.pk, nodes["photo.png"].pk]))
    expect(page.locator("#viewer-coedit")).to_have_count(0)

    reader = signed_in_page(carol)
    reader.goto(f"/spaces/{space.pk}/?path=/Docs")
    reader_row = reader.locator('tr.fm-row[data-name="notes.md"]')
    assert reader_row.get_attribute("data-coedit") is None
    reader_row.locator(".row-menu-button").click()
    expect(reader.locator("#row-menu")).to_be_visible()
    expect(reader.locator("#row-menu").get_by_role("menuitem", name="Edit together")).to_be_hidden()
    reader.goto(reverse("web:view", args=[space.pk, nodes["notes.md"].pk]))
    expect(reader.locator("#viewer-title")).to_have_text("notes.md")
    expect(reader.locator("#viewer-coedit")).to_have_count(0)


DISCOVERY = (b'<?xml version="1.0" encoding="utf-8"?><wopi-discovery><net-zone name="external-http"><app name="writer">'
             b'<action name="edit" ext="docx" urlsrc="https://office.invalid/browser/cool.html?"/>'
             b'</app></net-zone></wopi-discovery>')


@pytest.fixture
def office_server(settings):
    """An office server's discovery (Word documents only) on a loopback HTTP server, configured for the portal."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(DISCOVERY)))
            self.end_headers()
            self.wfile.write(DISCOVERY)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.WOPI_DISCOVERY_URL = f"http://127.0.0.1:{server.server_address[1]}/hosting/discovery"
    discovery_forget()
    try:
        yield
    finally:
        discovery_forget()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_open_in_office_is_offered_for_the_types_the_office_server_opens(signed_in_page, alice, team, office_server,
                                                                        console_errors):
    space, nodes, _carol = team
    data = b"PK\x03\x04 not really a document"
    plan = file_put(actor=alice, space_id=space.pk, path="/Docs/plan.docx", fileobj=io.BytesIO(data),
                    size=len(data)).node
    page = signed_in_page(alice)
    page.goto(f"/spaces/{space.pk}/?path=/Docs")
    menu = page.locator("#row-menu")
    plan_row = page.locator('tr.fm-row[data-name="plan.docx"]')
    expect(plan_row).to_have_attribute("data-office", reverse("wopi-office", args=[plan.pk]))
    plan_row.locator(".row-menu-button").click()
    expect(menu.get_by_role("menuitem", name="Open in office")).to_be_visible()
    expect(menu.get_by_role("menuitem", name="Edit together")).to_be_hidden()
    page.keyboard.press("Escape")
    notes_row = page.locator('tr.fm-row[data-name="notes.md"]')
    assert notes_row.get_attribute("data-office") is None
    notes_row.locator(".row-menu-button").click()
    expect(menu.get_by_role("menuitem", name="Edit together")).to_be_visible()
    expect(menu.get_by_role("menuitem", name="Open in office")).to_be_hidden()
    page.goto(reverse("web:view", args=[space.pk, plan.pk]))
    expect(page.locator("#viewer-office")).to_have_attribute("href", reverse("wopi-office", args=[plan.pk]))
    expect(page.locator("#viewer-coedit")).to_have_count(0)
