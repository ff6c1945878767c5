"""Restore to a point in time in Chromium: a manager picks the time before an
attack, reads the preview, confirms, and the file has its name and bytes back."""

from __future__ import annotations

import io
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from portal.files.models import FileVersion, Node
from portal.files.services import tree
from portal.files.services.direct import file_put
from portal.spaces.services import space_create

PHONE = {"width": 375, "height": 812}


def test_a_manager_previews_and_applies_a_restore_in_the_browser(signed_in_page, alice, console_errors, screenshot):
    space = space_create(actor=alice, name="Team")
    node = file_put(actor=alice, space_id=space.pk, path="/Docs/plan.txt", fileobj=io.BytesIO(b"v1"), size=2).node
    an_hour_ago = timezone.now() - timedelta(hours=1)
    FileVersion.objects.filter(node=node).update(created_at=an_hour_ago)
    Node.objects.filter(space=space).update(created_at=an_hour_ago)
    file_put(actor=alice, space_id=space.pk, path="/Docs/plan.txt", fileobj=io.BytesIO(b"\x8f\x01encrypted"), size=11)
    tree.node_rename(actor=alice, node_id=node.pk, name="plan.txt.locked")
    file_put(actor=alice, space_id=space.pk, path="/Docs/HOW_TO_DECRYPT.txt", fileobj=io.BytesIO(b"pay"), size=3)

    page = signed_in_page(alice)
    page.set_viewport_size(PHONE)
    page.goto(f"/spaces/{space.pk}/")
    page.get_by_label("Space menu").click()
    page.get_by_role("link", name="Restore to a point in time").click()
    at = timezone.localtime(timezone.now() - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
    page.get_by_label("Restore to the state at").fill(at)
    page.get_by_role("button", name="Preview").click()
    plan = page.locator("[data-restore-plan]")
    expect(plan.locator('[data-count="content"]')).to_have_text("1")
    expect(plan.locator('[data-count="place"]')).to_have_text("1")
    expect(plan.locator('[data-count="trash"]')).to_have_text("1")
    expect(plan).to_contain_text("/Docs/plan.txt.locked")
    expect(plan).to_contain_text("/Docs/HOW_TO_DECRYPT.txt")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scroll"
    screenshot(page, "preview-phone")
    assert Node.objects.get(pk=node.pk).name == "plan.txt.locked", "the preview changed nothing"

    page.get_by_role("button", name="Restore to this time").click()
    page.get_by_role("dialog").get_by_role("button", name="Restore", exact=True).click()
    expect(page.locator('[data-restore-run="done"]')).to_be_visible()
    expect(page.locator('#restore-run [data-count="content"]')).to_have_text("1")
    screenshot(page, "applied-phone")
    restored = Node.objects.select_related("current_version").get(pk=node.pk)
    assert restored.name == "plan.txt" and restored.current_version.number == 3
    assert restored.current_version.restored_from == 1
    assert Node.objects.get(space=space, name="HOW_TO_DECRYPT.txt").trashed_at is not None
