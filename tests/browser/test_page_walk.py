"""The zh-Hans and phone-width walk: every main page, signed in as a member
(and as staff for the admin pages) and as a stranger for the public share
pages, in Simplified Chinese. Each page fails the walk if

- its visible text (``document.body.innerText``, plus placeholders, titles,
  ARIA labels, image alt texts and button values; without commands in
  ``code``/``pre``/``kbd``/``samp`` and brand names marked ``translate="no"``)
  holds an English word — ASCII letters, three or more — outside the
  allow-list below, or
- at 375 px wide it scrolls sideways (``scrollWidth > innerWidth``).

Every page is screenshotted in Chinese at 1366 px ("zh-<page>") and at
375 px ("phone-<page>"). All pages are walked before the test fails, and
the failure lists every page with what was found."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from django.utils import timezone

from portal.backups.services.devices import device_enroll, enrollment_token_create
from portal.files.services.direct import file_put
from portal.files.services.tree import node_trash
from portal.locks.services import lock_acquire
from portal.shares.models import ShareLink
from portal.shares.services import share_link_create, share_link_revoke
from portal.spaces.services import member_add, space_create

# Words that stay in Latin letters in the Chinese interface: product and
# brand names, and names this test gives to users. Nothing else.
ALLOWED = {
    "coffer", "webdav", "chromium", "windows", "macos", "linux", "python", "pdf", "csv", "json", "zip",
    "lines", "api", "url", "sha", "utc", "celery", "beat", "totp", "ios", "android", "webhook",  # products, formats, standards
    "english",  # the language switcher names each language in itself
    "walker", "boss",  # the users this test signs in as
    "txt", "png",  # extensions of the files it makes (their names are Chinese)
}
# Not prose: addresses, paths, zone names ("Asia/Shanghai"), dotted event
# codes ("file.uploaded"), tokens, e-mail addresses.
IDENTIFIERS = re.compile(r"https?://\S+|\S*/\S*|\b[a-z_]+(?:\.[a-z_]+)+\b|\b[\w-]{20,}\b|\S+@\S+")
WORD = re.compile(r"[A-Za-z]{3,}")
VISIBLE_TEXT = """() => {
  // Commands, code and names marked translate="no" are hidden while the text is read.
  const hidden = [...document.querySelectorAll('code, pre, kbd, samp, [translate="no"]')];
  const shown = hidden.map((node) => node.style.display);
  hidden.forEach((node) => { node.style.display = 'none'; });
  const text = document.body.innerText;
  hidden.forEach((node, i) => { node.style.display = shown[i]; });
  const said = [];  // what a reader or a screen reader gets besides the text: hints, labels, buttons
  for (const node of document.body.querySelectorAll('[placeholder], [title], [aria-label], img[alt], input[type=submit], input[type=button]')) {
    if (node.closest('[translate="no"]')) continue;
    for (const name of ['placeholder', 'title', 'aria-label', 'alt']) said.push(node.getAttribute(name) || '');
    if (node.matches('input[type=submit], input[type=button]')) said.push(node.value);
  }
  return text + '\\n' + said.join('\\n');
}"""
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1366, "height": 900}


def english_words(text: str) -> list[str]:
    words = WORD.findall(IDENTIFIERS.sub(" ", text))
    return sorted({word for word in words if word.lower() not in ALLOWED})


def _world(user, boss):
    space = space_create(actor=user, name="项目资料")
    member_add(actor=user, space_id=space.pk, username=boss.get_username(), role="viewer")
    report = file_put(actor=user, space_id=space.pk, path="/报告/季度报告.txt",
                      fileobj=io.BytesIO("季度数字\n".encode() * 200), size=len("季度数字\n".encode()) * 200).node
    file_put(actor=user, space_id=space.pk, path="/报告/草稿.txt", fileobj=io.BytesIO(b"draft"), size=5)
    old = file_put(actor=user, space_id=space.pk, path="/旧文件.txt", fileobj=io.BytesIO(b"old"), size=3).node
    node_trash(actor=user, node_id=old.pk)
    lock_acquire(actor=user, node=report)
    folder = report.parent
    links = {
        "file": share_link_create(actor=user, node_id=report.pk, permission="download"),
        "folder": share_link_create(actor=user, node_id=folder.pk, permission="download"),
        "password": share_link_create(actor=user, node_id=report.pk, permission="download",
                                      password="蓝色港湾 42 号"),
        "drop": share_link_create(actor=user, node_id=folder.pk, permission="upload"),
        "gone": share_link_create(actor=user, node_id=report.pk, permission="download"),
        "expired": share_link_create(actor=user, node_id=report.pk, permission="download"),
    }
    share_link_revoke(actor=user, link_id=links["gone"][0].pk)
    ShareLink.objects.filter(pk=links["expired"][0].pk).update(expires_at=timezone.now() - timedelta(days=1))
    raw = enrollment_token_create(actor=user, owner=user)[1]
    device = device_enroll(token=raw, hostname="walker-pc", platform="linux")[0]
    return space, folder, links, device


def _in_chinese(page, base_url: str) -> None:
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base_url}])
    page.context.set_extra_http_headers({"Accept-Language": "zh-CN,zh;q=0.9"})


def _walk(page, pages: dict[str, str], screenshot, problems: dict[str, list[str]], console_errors,
          expect_refusal: frozenset = frozenset()) -> None:
    for name, url in pages.items():
        page.set_viewport_size(DESKTOP)
        response = page.goto(url)
        found = []
        if response is None or (response.status >= 400 and name not in expect_refusal):
            found.append(f"status {response.status if response else '?'}")
        words = english_words(page.evaluate(VISIBLE_TEXT))
        if words:
            found.append("English: " + ", ".join(words[:25]))
        screenshot(page, f"zh-{name}")
        page.set_viewport_size(PHONE)
        page.wait_for_timeout(50)  # one layout pass at the new width
        wide = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        if wide[0] > wide[1]:
            found.append(f"scrolls sideways at 375 px ({wide[0]} > {wide[1]})")
        screenshot(page, f"phone-{name}")
        if name in expect_refusal:
            console_errors.clear()  # Chromium logs the page's own 4xx status as a failed resource
        if found:
            problems[name] = found


def test_every_main_page_reads_in_chinese_and_fits_a_phone(signed_in_page, new_page, make_user, live_server,
                                                           console_errors, screenshot):
    walker = make_user(username="walker")
    boss = make_user(username="boss", is_staff=True, is_superuser=True)
    space, folder, links, device = _world(walker, boss)
    problems: dict[str, list[str]] = {}

    member = signed_in_page(walker)
    _in_chinese(member, live_server.url)
    _walk(member, {
        "spaces": "/spaces/",
        "browser": f"/spaces/{space.pk}/",
        "subfolder": f"/spaces/{space.pk}/?path=/报告",
        "viewer": f"/spaces/{space.pk}/items/{links['file'][0].node_id}/view",
        "trash": f"/spaces/{space.pk}/trash/",
        "restore-to-point": f"/spaces/{space.pk}/restore-to-point/",
        "space-settings": f"/spaces/{space.pk}/settings/",
        "links": "/links/",
        "link": f"/links/{links['password'][0].pk}/",
        "devices": "/devices/",
        "device": f"/devices/{device.pk}/",
        "account": "/account/",
        "password": "/account/password/",
        "two-factor": "/account/two-factor/",
        "search": "/search/?q=报告",
        "recent": "/recent/",
        "starred": "/starred/",
        "shared-with-me": "/shared/",
    }, screenshot, problems, console_errors)

    staff = signed_in_page(boss)
    _in_chinese(staff, live_server.url)
    _walk(staff, {"admin-dashboard": "/admin/dashboard/", "admin-audit": "/admin/audit/auditevent/",
                  "admin-index": "/admin/", "manage-storage": "/manage/storage/",
                  "manage-governance": "/manage/governance/",
                  "manage-sensitive": "/manage/governance/sensitive/"}, screenshot, problems, console_errors)

    stranger = new_page()
    _in_chinese(stranger, live_server.url)
    _walk(stranger, {name: f"/s/{links[name][1]}" for name in ("folder", "file", "password", "drop")}
          | {"share-gone": f"/s/{links['gone'][1]}", "share-expired": f"/s/{links['expired'][1]}"},
          screenshot, problems, console_errors, expect_refusal=frozenset({"share-gone", "share-expired"}))

    assert not problems, "pages that are not Chinese or do not fit 375 px:\n" + "\n".join(
        f"  {name}: {'; '.join(found)}" for name, found in problems.items())


def test_the_english_word_finder_keeps_to_its_allow_list():
    assert english_words("上传 Upload 到 Coffer · walker · 季度报告.txt") == ["Upload"]
    assert english_words("https://example.com/s/abc 时区 Asia/Shanghai file.uploaded") == []
    assert english_words("12.0 MB 已用") == []
