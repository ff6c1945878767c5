"""Who may open a link (anyone, signed-in users, named people proven by a
one-time code), and the access log and notice its owner gets."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from portal.audit.actions import Action
from tests.helpers import assert_error, events
from tests.shares.conftest import PASSWORD, body, unlocked

pytestmark = pytest.mark.django_db
CAROL = "carol@example.com"


@pytest.fixture
def owner(signed_in, alice):
    return signed_in(alice)


# --- internal ----------------------------------------------------------------------------------

def test_an_internal_link_sends_anonymous_visitors_to_sign_in(share, shared_file, visitor):
    link = share(shared_file["id"], audience="internal")
    page = visitor().get(f"/s/{link['token']}")
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/?next=") and link["token"] in page["Location"]
    assert visitor().get(f"/s/{link['token']}/download").status_code == 403


def test_any_signed_in_user_opens_an_internal_link(make_user, share, shared_file):
    link = share(shared_file["id"], audience="internal")
    browser = Client(REMOTE_ADDR="203.0.113.8")
    browser.force_login(make_user(username="dave"))  # in no space at all
    assert browser.get(f"/s/{link['token']}").status_code == 200
    assert browser.get(f"/s/{link['token']}/download").status_code == 200
    assert events(Action.SHARE_DOWNLOADED, target_id=str(link["id"]))[0].actor_label == "dave"


# --- named people --------------------------------------------------------------------------------

def same_page(response, email: str) -> str:
    """The page with the address and the (per-answer) CSRF token blanked."""
    text = response.content.decode().replace(email, "EMAIL")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", text)


def code_from(message) -> str:
    return re.search(r"\b(\d{8})\b", message.body).group(1)


@pytest.fixture
def for_carol(share, shared_file):
    return share(shared_file["id"], audience="people", emails=[CAROL, "dan@example.com"])


def test_a_named_person_proves_their_address_with_a_code(for_carol, visitor, mailoutbox):
    page = f"/s/{for_carol['token']}"
    browser = visitor()
    form = browser.get(page)
    assert form.status_code == 200 and b'name="email"' in form.content
    assert browser.get(f"{page}/download").status_code == 403
    asked = browser.post(page, {"email": "Carol@Example.com"})
    assert asked.status_code == 200 and b'name="code"' in asked.content
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [CAROL]
    code = code_from(mailoutbox[0])
    wrong = browser.post(page, {"email": CAROL, "code": "00000000" if code != "00000000" else "11111111"})
    assert wrong.status_code == 403
    assert browser.post(page, {"email": CAROL, "code": code}).status_code == 303
    assert body(browser.get(f"{page}/download"))
    assert events(Action.SHARE_DOWNLOADED, target_id=str(for_carol["id"]))[0].actor_label == CAROL


def test_a_code_opens_the_link_only_once(for_carol, visitor, mailoutbox):
    page = f"/s/{for_carol['token']}"
    visitor().post(page, {"email": CAROL})
    code = code_from(mailoutbox[0])
    assert visitor().post(page, {"email": CAROL, "code": code}).status_code == 303
    again = visitor("203.0.113.99")
    assert again.post(page, {"email": CAROL, "code": code}).status_code == 403
    assert again.get(f"{page}/download").status_code == 403


def test_an_address_not_on_the_list_gets_the_same_answer_and_no_email(for_carol, visitor, mailoutbox):
    page = f"/s/{for_carol['token']}"
    listed = visitor().post(page, {"email": CAROL})
    stranger = visitor().post(page, {"email": "eve@example.com"})
    assert listed.status_code == stranger.status_code == 200
    assert same_page(listed, CAROL) == same_page(stranger, "eve@example.com")
    assert [message.to for message in mailoutbox] == [[CAROL]]
    guessed = visitor().post(page, {"email": "eve@example.com", "code": "12345678"})
    assert guessed.status_code == 403


def test_changing_the_recipients_asks_everyone_again(owner, for_carol, visitor, mailoutbox):
    page = f"/s/{for_carol['token']}"
    browser = visitor()
    browser.post(page, {"email": CAROL})
    browser.post(page, {"email": CAROL, "code": code_from(mailoutbox[0])})
    assert browser.get(f"{page}/download").status_code == 200
    owner.patch(f"/api/v1/shares/{for_carol['id']}", {"emails": [CAROL]}, format="json")
    assert browser.get(f"{page}/download").status_code == 403


# --- passwords -------------------------------------------------------------------------------------

def test_changing_the_password_locks_out_earlier_unlocks(owner, share, shared_file, visitor):
    link = share(shared_file["id"], password=PASSWORD)
    browser = unlocked(visitor(), link["token"])
    assert browser.get(f"/s/{link['token']}/download").status_code == 200
    changed = owner.patch(f"/api/v1/shares/{link['id']}", {"password": "a different secret"}, format="json")
    assert changed.status_code == 200, changed.content
    assert browser.get(f"/s/{link['token']}/download").status_code == 403
    assert b'name="password"' in browser.get(f"/s/{link['token']}").content
    assert browser.post(f"/s/{link['token']}", {"password": PASSWORD}).status_code == 403
    unlocked(browser, link["token"], "a different secret")
    assert browser.get(f"/s/{link['token']}/download").status_code == 200


# --- the access log ----------------------------------------------------------------------------------

def test_the_access_log_shows_what_visitors_did_with_address_and_agent(signed_in, member_of, owner, share,
                                                                      shared_folder, visitor):
    from django.core.files.uploadedfile import SimpleUploadedFile

    folder, _ = shared_folder
    link = share(folder.id, permission="edit", password=PASSWORD)
    token = link["token"]
    guesser = visitor("192.0.2.10", agent="Guesser/2")
    for _ in range(4):
        guesser.post(f"/s/{token}", {"password": "wrong"})  # three failures, then a throttle
    browser = unlocked(visitor("203.0.113.20", agent="Firefox/140"), token)
    browser.get(f"/s/{token}")
    browser.get(f"/s/{token}/f/a.txt")  # a text page is its preview
    body(browser.get(f"/s/{token}/download/a.txt"))
    browser.post(f"/s/{token}/upload", {"file": SimpleUploadedFile("c.txt", b"charlie")})

    log = owner.get(f"/api/v1/shares/{link['id']}/accesses?page_size=100")
    assert log.status_code == 200
    seen = {(item["action"], item["ip"], item["user_agent"]) for item in log.json()["results"]}
    assert {("share.password_failed", "192.0.2.10", "Guesser/2"),
            ("share.throttled", "192.0.2.10", "Guesser/2"),
            ("share.unlocked", "203.0.113.20", "Firefox/140"),
            ("share.viewed", "203.0.113.20", "Firefox/140"),
            ("share.previewed", "203.0.113.20", "Firefox/140"),
            ("share.downloaded", "203.0.113.20", "Firefox/140"),
            ("share.uploaded", "203.0.113.20", "Firefox/140")} <= seen
    items = {item["action"]: item for item in log.json()["results"]}
    assert items["share.downloaded"]["item"].endswith("/Project/a.txt")

    manager = signed_in(member_of("manager", "maria"))
    assert manager.get(f"/api/v1/shares/{link['id']}/accesses").json()["count"] == log.json()["count"]
    editor = signed_in(member_of("editor", "eddie"))
    assert_error(editor.get(f"/api/v1/shares/{link['id']}/accesses"), 404, "not_found")


def test_an_outsider_cannot_read_a_links_access_log(signed_in, bob, share, shared_file):
    link = share(shared_file["id"])
    assert_error(signed_in(bob).get(f"/api/v1/shares/{link['id']}/accesses"), 404, "not_found")


def test_the_owner_is_told_of_the_first_download_only(share, shared_file, visitor, mailoutbox,
                                                       django_capture_on_commit_callbacks):
    link = share(shared_file["id"], notify_on_first_download=True)
    quiet = share(shared_file["id"])
    for token in (link["token"], link["token"], quiet["token"]):
        with django_capture_on_commit_callbacks(execute=True):
            assert body(visitor().get(f"/s/{token}/download"))
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["alice@example.com"] and "q3.txt" in mailoutbox[0].subject
