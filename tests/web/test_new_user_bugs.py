"""Bugs a new user found in the portal's pages (issue 14), through Django's
test client: creating a space answers htmx with HX-Redirect and names a
taken name; members are found ignoring case; leaving and removing ask first
and the last owner cannot leave; the share dialog and the link page name
permissions alike and the recipients box belongs to "named people" only;
quotas are typed and shown in units; the README says "app password"."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from portal.files.models import Node
from portal.files.services.direct import file_put
from portal.shares.models import Audience, Permission, ShareLink
from portal.shares.services import share_link_create
from portal.spaces.models import Membership, Space
from portal.spaces.services import member_add, space_create
from tests.web.live import page_client

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def finance(alice):
    return space_create(actor=alice, name="Finance")


@pytest.fixture
def report(alice, finance):
    return file_put(actor=alice, space_id=finance.pk, path="/Reports/q3.txt", fileobj=io.BytesIO(b"numbers"),
                    size=7).node


# --- creating a team space -------------------------------------------------------------

def test_creating_a_space_from_htmx_is_answered_with_hx_redirect_to_its_files(alice):
    response = page_client(alice).post("/spaces/new", {"name": "Marketing"}, **HTMX)
    space = Space.objects.get(name="Marketing")
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/spaces/{space.pk}/"
    assert not response.content  # nothing for htmx to swap into the form


def test_creating_a_space_from_a_plain_form_is_a_303_to_its_files(alice):
    response = page_client(alice).post("/spaces/new", {"name": "Marketing"})
    assert response.status_code == 303
    assert response["Location"] == f"/spaces/{Space.objects.get(name='Marketing').pk}/"


def test_a_taken_space_name_is_refused_with_a_message_in_the_forms_error_slot(alice, finance):
    client = page_client(alice)
    response = client.post("/spaces/new", {"name": "finance"}, **HTMX)
    assert response.status_code == 409
    assert 'role="alert"' in response.content.decode() and "already have a space named" in response.content.decode()
    form = client.get("/spaces/").content.decode()
    assert re.search(r'id="space-new-error"[^>]*data-error-slot', form), "the refusal needs a slot in the form"
    assert Space.objects.filter(name__iexact="finance").count() == 1


def test_an_empty_space_name_is_refused(alice):
    response = page_client(alice).post("/spaces/new", {"name": "   "}, **HTMX)
    assert response.status_code == 400 and 'role="alert"' in response.content.decode()


# --- members -------------------------------------------------------------------------------

def test_a_member_is_added_whatever_the_case_of_the_username(alice, make_user, finance):
    carol = make_user(username="Carol")
    client = page_client(alice)
    response = client.post(f"/spaces/{finance.pk}/settings/member-add", {"username": "cAROL", "role": "viewer"},
                           **HTMX)
    assert response.status_code == 204
    assert Membership.objects.get(space=finance, user=carol).role == "viewer"
    page = client.get(f"/spaces/{finance.pk}/settings/").content.decode()
    assert "Carol was added." in page  # the user's own spelling, not what was typed


def test_the_api_adds_a_member_whatever_the_case_of_the_username(api, alice, make_user, finance):
    carol = make_user(username="carol")
    response = api.as_user(alice).post(f"/api/v1/spaces/{finance.pk}/members/",
                                       {"username": "CAROL", "role": "editor"}, format="json")
    assert response.status_code == 201, response.json()
    assert Membership.objects.get(space=finance, user=carol).role == "editor"


def test_an_unknown_username_is_refused_and_an_outsider_gets_404(alice, bob, make_user, finance):
    make_user(username="carol")
    unknown = page_client(alice).post(f"/spaces/{finance.pk}/settings/member-add",
                                      {"username": "caroline", "role": "viewer"}, **HTMX)
    assert unknown.status_code == 400 and "no active user named" in unknown.content.decode()
    outsider = page_client(bob).post(f"/spaces/{finance.pk}/settings/member-add",
                                     {"username": "CAROL", "role": "viewer"}, **HTMX)
    assert outsider.status_code == 404
    assert not Membership.objects.filter(space=finance, user__username="carol").exists()


def test_removing_and_leaving_ask_for_confirmation_first(alice, bob, finance):
    member_add(actor=alice, space_id=finance.pk, username="bob", role="editor")
    owner_page = page_client(alice).get(f"/spaces/{finance.pk}/settings/").content.decode()
    assert "Remove bob from Finance? They lose access to its files." in owner_page
    assert 'data-confirm="Leave Finance?' in owner_page
    member_page = page_client(bob).get(f"/spaces/{finance.pk}/settings/").content.decode()
    assert 'data-confirm="Leave Finance?' in member_page


def test_a_member_leaves_a_space_and_lands_on_their_spaces(alice, bob, finance):
    member_add(actor=alice, space_id=finance.pk, username="bob", role="editor")
    response = page_client(bob).post(f"/spaces/{finance.pk}/settings/member-remove", {"user": bob.pk}, **HTMX)
    assert response.status_code == 204 and response["HX-Redirect"] == "/spaces/"
    assert not Membership.objects.filter(space=finance, user=bob).exists()
    assert page_client(bob).get(f"/spaces/{finance.pk}/settings/").status_code == 404  # an outsider now


def test_the_last_owner_cannot_leave_and_is_told_why(alice, finance):
    response = page_client(alice).post(f"/spaces/{finance.pk}/settings/member-remove", {"user": alice.pk}, **HTMX)
    assert response.status_code == 409
    assert "last owner" in response.content.decode() and "make someone else an owner first" in response.content.decode()
    assert Membership.objects.filter(space=finance, user=alice, role="owner").exists()


def test_revoking_a_link_asks_first(alice, report):
    link, _ = share_link_create(actor=alice, node_id=report.pk, permission="download")
    page = page_client(alice).get(f"/links/{link.pk}/").content.decode()
    assert 'data-confirm="Revoke this link?' in page


# --- share links ---------------------------------------------------------------------------

def _options(html: str, select_id: str) -> list[str]:
    select = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert select, select_id
    return [label.strip() for label in re.findall(r"<option[^>]*>([^<]*)</option>", select[1])]


def test_the_share_dialog_and_the_link_page_name_permissions_with_the_models_labels(alice, finance, report):
    client = page_client(alice)
    folder = Node.objects.get(pk=report.parent_id)
    dialog = client.get(f"/spaces/{finance.pk}/items/{folder.pk}/share", **HTMX).content.decode()
    assert _options(dialog, "share-permission") == [str(label) for label in Permission.labels]
    assert _options(dialog, "share-audience") == [str(label) for label in Audience.labels]
    link, _ = share_link_create(actor=alice, node_id=folder.pk, permission="upload")
    detail = client.get(f"/links/{link.pk}/").content.decode()
    assert _options(detail, "edit-permission") == [str(label) for label in Permission.labels]
    assert "Upload only (file drop)" in client.get("/links/").content.decode()


def test_the_recipients_box_shows_only_for_named_people(alice, finance, report):
    client = page_client(alice)
    dialog = client.get(f"/spaces/{finance.pk}/items/{report.pk}/share", **HTMX).content.decode()
    assert re.search(r'<div id="share-emails-box" hidden>', dialog), "hidden while “Anyone” is chosen"
    assert 'data-shows-when-people="#share-emails-box"' in dialog
    refused = client.post(f"/spaces/{finance.pk}/items/{report.pk}/share",
                          {"permission": "download", "audience": "people", "emails": "not an address"}, **HTMX)
    assert refused.status_code == 400
    assert re.search(r'<div id="share-emails-box">', refused.content.decode()), "still shown with its error"


def test_addresses_sent_with_an_anyone_link_are_ignored(alice, finance, report):
    response = page_client(alice).post(f"/spaces/{finance.pk}/items/{report.pk}/share",
                                       {"permission": "download", "audience": "anyone",
                                        "emails": "eve@example.com"}, **HTMX)
    assert response.status_code == 200
    link = ShareLink.objects.get(node=report)
    assert link.audience == Audience.ANYONE and not link.recipients.exists()


def test_public_folder_pages_use_the_portals_icons_not_emoji(alice, report, client):
    folder = Node.objects.get(pk=report.parent_id)
    _, token = share_link_create(actor=alice, node_id=folder.pk, permission="download")
    page = client.get(f"/s/{token}").content.decode()
    assert '<span class="icon file" aria-hidden="true"></span>' in page
    assert not re.search("[\U0001F300-\U0001FAFF]", page)
    for template in (ROOT / "templates" / "shares").glob("*.html"):
        assert not re.search("[\U0001F300-\U0001FAFF]", template.read_text()), template.name


# --- quotas in units ----------------------------------------------------------------------

def test_an_administrator_sets_a_quota_in_units_and_sees_it_in_units(admin, finance):
    client = page_client(admin)
    Space.objects.filter(pk=finance.pk).update(quota_bytes=10 * 1024**3)
    page = client.get(f"/spaces/{finance.pk}/settings/").content.decode()
    assert 'name="quota" value="10 GB"' in page
    response = client.post(f"/spaces/{finance.pk}/settings/quota", {"quota": "500 mib"}, **HTMX)
    assert response.status_code == 204
    finance.refresh_from_db()
    assert finance.quota_bytes == 500 * 1024**2
    assert 'name="quota" value="500 MB"' in client.get(f"/spaces/{finance.pk}/settings/").content.decode()


def test_a_quota_without_a_unit_is_refused_with_a_clear_error(admin, finance):
    before = Space.objects.get(pk=finance.pk).quota_bytes
    response = page_client(admin).post(f"/spaces/{finance.pk}/settings/quota", {"quota": "10737418240"}, **HTMX)
    assert response.status_code == 400
    assert "a number and a unit" in response.content.decode()
    assert Space.objects.get(pk=finance.pk).quota_bytes == before


def test_only_administrators_get_the_quota_form_and_outsiders_get_404(alice, bob, finance):
    owner = page_client(alice)
    assert 'name="quota"' not in owner.get(f"/spaces/{finance.pk}/settings/").content.decode()
    assert owner.post(f"/spaces/{finance.pk}/settings/quota", {"quota": "1 TB"}, **HTMX).status_code == 403
    assert page_client(bob).post(f"/spaces/{finance.pk}/settings/quota", {"quota": "1 TB"},
                                 **HTMX).status_code == 404


# --- one name for the WebDAV password -------------------------------------------------------

def test_the_readme_and_the_account_page_call_the_webdav_password_an_app_password(alice):
    readme = (ROOT / "README.md").read_text()
    webdav = readme.split("\n## WebDAV\n", 1)[1].split("\n## ", 1)[0]
    assert "app password" in webdav and "personal access token" not in webdav and "$TOKEN" not in webdav
    assert "app password" in page_client(alice).get("/account/").content.decode()
