"""Attacks on issue 15's new ways in (groups holding roles in spaces, shares
to colleagues and groups, SCIM, sign-in by OpenID Connect, invitations and
password resets, the /manage/ console, webhooks). Each test is one attack;
it passes when the defence holds."""

from __future__ import annotations

import io
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from portal.accounts.services import token_issue, user_disable
from portal.core.errors import Forbidden, InvalidInput, NotFound
from portal.files.selectors import node_at
from portal.files.services.direct import file_put
from portal.people.services import group_create, group_delete, group_member_add
from portal.shares.models import InternalShare
from portal.shares.services import internal_share_create
from portal.spaces.models import Membership, SpaceGroup
from portal.spaces.services import (
    member_add, member_change_role, member_remove, space_create, space_group_add, space_group_remove,
    space_group_role_set)

pytestmark = pytest.mark.django_db


def put(user, space, path: str, data: bytes = b"x"):
    return file_put(actor=user, space_id=space.pk, path=path, fileobj=io.BytesIO(data), size=len(data)).node


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def web_as(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


@pytest.fixture
def team(alice):
    return space_create(actor=alice, name="Team")


@pytest.fixture
def tree(alice, team):
    """/Secret/Project/a.txt and /Secret/Project/sub/b.txt, with /Secret/plan.txt beside the project."""
    ids = {path: put(alice, team, path, data).pk for path, data in {
        "/Secret/Project/a.txt": b"alpha", "/Secret/Project/sub/b.txt": b"bravo",
        "/Secret/plan.txt": b"not shared"}.items()}
    ids["/Secret/Project"] = node_at(team, ["Secret", "Project"])[0].pk
    ids["/Secret"] = node_at(team, ["Secret"])[0].pk
    return ids


@pytest.fixture
def shared(alice, bob, tree):
    """/Secret/Project shared with bob as editor."""
    return internal_share_create(actor=alice, node_id=tree["/Secret/Project"], user=bob, role="editor")


# --- a share reaching beyond its folder ----------------------------------------------------

@pytest.mark.parametrize("path", ["Secret/Project/../plan.txt", "Secret/Project/%2e%2e/plan.txt",
                                  "Secret/Project/..%2Fplan.txt", "Secret/plan.txt", "Secret", ""])
def test_a_recipient_cannot_climb_out_of_the_shared_folder_by_path(bob, team, shared, path):
    response = api_as(bob).get(f"/api/v1/spaces/{team.pk}/tree/{path}")
    assert response.status_code in (400, 404), response.content
    assert b"plan.txt" not in response.content


def test_a_recipient_reaches_no_space_wide_endpoint(bob, team, tree, shared):
    client = api_as(bob)
    for url in [f"/api/v1/spaces/{team.pk}/", f"/api/v1/spaces/{team.pk}/members/", f"/api/v1/spaces/{team.pk}/groups/",
                f"/api/v1/spaces/{team.pk}/trash", f"/api/v1/spaces/{team.pk}/share-policy",
                f"/api/v1/spaces/{team.pk}/zip/", f"/api/v1/spaces/{team.pk}/zip/Secret",
                f"/api/v1/files/{tree['/Secret']}", f"/api/v1/files/{tree['/Secret/plan.txt']}/content",
                f"/api/v1/files/{tree['/Secret/plan.txt']}/versions"]:
        assert client.get(url).status_code == 404, url
    web = web_as(bob)
    for url in [f"/spaces/{team.pk}/", f"/spaces/{team.pk}/activity/", f"/spaces/{team.pk}/trash/",
                f"/spaces/{team.pk}/settings/", f"/spaces/{team.pk}/folder-paths",
                f"/spaces/{team.pk}/items/{tree['/Secret/Project']}/activity",
                f"/spaces/{team.pk}/items/{tree['/Secret/plan.txt']}/view",
                f"/spaces/{team.pk}/items/{tree['/Secret/plan.txt']}/thumbnail",
                f"/shared/{tree['/Secret']}/"]:
        assert web.get(url).status_code == 404, url


def test_a_recipient_cannot_zip_the_shared_folder_from_the_folder_above(bob, team, tree, shared):
    web = web_as(bob)
    whole = web.get(f"/spaces/{team.pk}/zip", {"ids": [tree["/Secret/Project"]]})
    assert whole.status_code == 404
    mixed = web.get(f"/spaces/{team.pk}/zip", {"ids": [tree["/Secret/Project"], tree["/Secret/plan.txt"]]})
    assert mixed.status_code == 404
    inside = web.get(f"/spaces/{team.pk}/zip", {"ids": [tree["/Secret/Project/a.txt"]]})
    assert inside.status_code == 200


def test_a_recipient_neither_makes_links_nor_passes_the_share_on(bob, make_user, team, tree, shared):
    carol = make_user(username="carol")
    client = api_as(bob)
    for node in (tree["/Secret/Project"], tree["/Secret/Project/a.txt"]):
        link = client.post("/api/v1/shares", {"node": node, "permission": "download"}, format="json")
        assert link.status_code in (403, 404), link.content
        again = client.post(f"/api/v1/nodes/{node}/internal-shares", {"user": "carol", "role": "viewer"},
                            format="json")
        assert again.status_code in (403, 404), again.content
        assert client.get(f"/api/v1/nodes/{node}/internal-shares").status_code in (403, 404)
    # nor change, widen or end the share that was given to them
    assert client.patch(f"/api/v1/internal-shares/{shared.pk}", {"expires_at": None}, format="json").status_code == 404
    assert web_as(bob).post(f"/shared/people/{shared.pk}/remove").status_code == 404
    assert not InternalShare.objects.filter(user=carol).exists()


def test_a_recipient_cannot_restore_from_or_purge_the_spaces_trash(alice, bob, team, tree, shared):
    from portal.files.services.tree import node_trash

    node_trash(actor=alice, node_id=tree["/Secret/Project/sub/b.txt"])
    client = api_as(bob)
    trashed = tree["/Secret/Project/sub/b.txt"]
    assert client.post(f"/api/v1/trash/{trashed}/restore", {}, format="json").status_code == 404
    assert client.delete(f"/api/v1/trash/{trashed}").status_code == 404


def test_a_recipient_cannot_break_a_members_lock_in_the_shared_folder(alice, bob, team, tree, shared):
    a = tree["/Secret/Project/a.txt"]
    assert api_as(alice).post(f"/api/v1/files/{a}/lock", {}, format="json").status_code in (200, 201)
    broken = web_as(bob).post(f"/spaces/{team.pk}/items/{a}/break-lock")
    assert broken.status_code in (403, 404)
    assert api_as(bob).delete(f"/api/v1/files/{a}/lock").status_code in (403, 404, 409, 423)


def test_a_recipient_searches_nothing_of_the_space(bob, tree, shared):
    for q in ("plan", "a.txt", "Project", "Secret"):
        found = api_as(bob).get("/api/v1/search", {"q": q})
        assert found.status_code == 200 and b"plan.txt" not in found.content and b"Secret" not in found.content


# --- keeping access after it was taken away --------------------------------------------------

def _reaches(user, node_id) -> bool:
    return api_as(user).get(f"/api/v1/files/{node_id}/content").status_code == 200


def test_a_share_ends_when_its_group_is_deleted(alice, bob, tree):
    group = group_create(actor=None, name="Auditors")
    group_member_add(actor=None, group=group, user=bob)
    internal_share_create(actor=alice, node_id=tree["/Secret/Project"], group=group, role="viewer")
    assert _reaches(bob, tree["/Secret/Project/a.txt"])
    group_delete(actor=None, group=group)
    assert not _reaches(bob, tree["/Secret/Project/a.txt"])


def test_a_share_ends_when_its_sharer_is_disabled_or_demoted(alice, bob, make_user, team, tree):
    sharer = make_user(username="sharer")
    member_add(actor=alice, space_id=team.pk, username="sharer", role="editor")
    internal_share_create(actor=sharer, node_id=tree["/Secret/Project"], user=bob, role="viewer")
    assert _reaches(bob, tree["/Secret/Project/a.txt"])
    member_change_role(actor=alice, space_id=team.pk, user_id=sharer.pk, role="viewer")
    assert not _reaches(bob, tree["/Secret/Project/a.txt"])
    member_change_role(actor=alice, space_id=team.pk, user_id=sharer.pk, role="editor")
    user_disable(actor=None, user_id=sharer.pk)
    assert not _reaches(bob, tree["/Secret/Project/a.txt"])


def test_an_expired_share_opens_nothing_on_any_route(bob, team, tree, shared):
    InternalShare.objects.filter(pk=shared.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    a = tree["/Secret/Project/a.txt"]
    assert not _reaches(bob, a)
    web = web_as(bob)
    for url in [f"/shared/{tree['/Secret/Project']}/", f"/spaces/{team.pk}/items/{a}/view",
                f"/spaces/{team.pk}/items/{a}/view/bytes", f"/spaces/{team.pk}/items/{a}/thumbnail",
                f"/spaces/{team.pk}/items/{a}/"]:
        assert web.get(url).status_code == 404, url
    assert b"Project" not in web.get("/shared/").content


def test_a_share_to_a_disabled_recipient_is_not_used(bob, tree, shared):
    token = token_issue(actor=bob, owner=bob, name="script")[1]
    bearer = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert bearer.get(f"/api/v1/files/{tree['/Secret/Project/a.txt']}/content").status_code == 200
    user_disable(actor=None, user_id=bob.pk)
    assert bearer.get(f"/api/v1/files/{tree['/Secret/Project/a.txt']}/content").status_code in (401, 403)


def test_a_disabled_users_session_ends_at_once(alice, bob, team):
    member_add(actor=alice, space_id=team.pk, username="bob", role="viewer")
    web = web_as(bob)
    assert web.get(f"/spaces/{team.pk}/").status_code == 200
    user_disable(actor=None, user_id=bob.pk)
    after = web.get(f"/spaces/{team.pk}/")
    assert after.status_code == 302 and "login" in after["Location"]
    assert web.get("/api/v1/spaces/").status_code in (401, 403)


def test_taking_a_group_out_of_a_space_ends_its_members_access_at_once(alice, bob, team, tree):
    group = group_create(actor=None, name="Editors")
    group_member_add(actor=None, group=group, user=bob)
    space_group_add(actor=alice, space_id=team.pk, group_id=group.pk, role="editor")
    web = web_as(bob)
    assert web.get(f"/spaces/{team.pk}/").status_code == 200
    space_group_remove(actor=alice, space_id=team.pk, group_id=group.pk)
    assert web.get(f"/spaces/{team.pk}/").status_code == 404
    assert not _reaches(bob, tree["/Secret/plan.txt"])
    assert api_as(bob).get("/api/v1/spaces/").json()["results"] == [] or \
        team.pk not in [row["id"] for row in api_as(bob).get("/api/v1/spaces/").json()["results"]]


# --- escalation through groups in a space ----------------------------------------------------

@pytest.fixture
def group_manager(alice, make_user, team):
    """mallory, a manager of the team only through the group "Leads"."""
    mallory = make_user(username="mallory")
    leads = group_create(actor=None, name="Leads")
    group_member_add(actor=None, group=leads, user=mallory)
    space_group_add(actor=alice, space_id=team.pk, group_id=leads.pk, role="manager")
    return mallory, leads


def test_a_group_granted_manager_cannot_make_anyone_owner(alice, bob, team, group_manager):
    mallory, leads = group_manager
    with pytest.raises(Forbidden):
        space_group_role_set(actor=mallory, space_id=team.pk, group_id=leads.pk, role="owner")
    others = group_create(actor=None, name="Others")
    with pytest.raises(Forbidden):
        space_group_add(actor=mallory, space_id=team.pk, group_id=others.pk, role="owner")
    with pytest.raises(Forbidden):
        member_add(actor=mallory, space_id=team.pk, username="bob", role="owner")
    member_add(actor=mallory, space_id=team.pk, username="mallory", role="manager")  # their own row: still manager
    with pytest.raises(Forbidden):
        member_change_role(actor=mallory, space_id=team.pk, user_id=mallory.pk, role="owner")
    client = api_as(mallory)
    raised = client.patch(f"/api/v1/spaces/{team.pk}/groups/{leads.pk}/", {"role": "owner"}, format="json")
    assert raised.status_code == 403
    assert SpaceGroup.objects.get(space=team, group=leads).role == "manager"
    assert not Membership.objects.filter(space=team, role="owner").exclude(user=alice).exists()


def test_a_group_granted_manager_cannot_remove_or_demote_the_owner(alice, team, group_manager):
    mallory, _ = group_manager
    with pytest.raises(Forbidden):
        member_remove(actor=mallory, space_id=team.pk, user_id=alice.pk)
    with pytest.raises(Forbidden):
        member_change_role(actor=mallory, space_id=team.pk, user_id=alice.pk, role="viewer")
    owners = group_create(actor=None, name="Owners")
    space_group_add(actor=alice, space_id=team.pk, group_id=owners.pk, role="owner")
    with pytest.raises(Forbidden):
        space_group_remove(actor=mallory, space_id=team.pk, group_id=owners.pk)
    with pytest.raises(Forbidden):
        space_group_role_set(actor=mallory, space_id=team.pk, group_id=owners.pk, role="viewer")


def test_a_group_granted_manager_cannot_grow_their_group_through_the_api(alice, team, group_manager):
    mallory, leads = group_manager
    client = api_as(mallory)
    assert client.post(f"/api/v1/groups/", {"name": "Mine"}, format="json").status_code in (403, 404, 405)
    assert web_as(mallory).post(f"/manage/groups/{leads.pk}/members/add/", {"username": "bob"}).status_code == 404
    assert not leads.members.filter(username="bob").exists()


def test_a_manager_cannot_give_a_group_a_role_in_a_personal_space(alice, bob):
    from portal.spaces.models import Space, SpaceKind

    personal = Space.objects.filter(kind=SpaceKind.PERSONAL, memberships__user=alice).first()
    if personal is None:
        pytest.skip("no personal space for this user in this configuration")
    group = group_create(actor=None, name="Snoops")
    with pytest.raises((InvalidInput, Forbidden, NotFound)):
        space_group_add(actor=alice, space_id=personal.pk, group_id=group.pk, role="viewer")


# --- invitations and password resets ---------------------------------------------------------

def test_an_invitation_link_works_once(admin, mailoutbox):
    from portal.accounts.services_invitations import invitation_accept, invitation_create

    _, token = invitation_create(actor=admin, email="new@example.com")
    invitation_accept(token=token, username="newcomer", password="a long enough passphrase 1")
    with pytest.raises(NotFound):
        invitation_accept(token=token, username="second", password="a long enough passphrase 1")
    selector = token.rsplit("_", 1)[0] if "_" in token else token[:-4]
    for forged in (token[:-1] + ("A" if token[-1] != "A" else "B"), selector, "", "x" * 80):
        assert Client().get(f"/accounts/invite/{forged or 'x'}/").status_code == 404


def test_a_staff_invitation_does_not_outlive_its_inviters_administration(admin, make_user, mailoutbox):
    """An administrator invites a spare address as administrator, is then
    demoted (or disabled), and accepts the invitation to get it back."""
    from portal.accounts.services import user_staff_set
    from portal.accounts.services_invitations import invitation_accept, invitation_create

    other = make_user(username="other-admin", is_superuser=True, is_staff=True)
    _, token = invitation_create(actor=admin, email="spare@example.com", staff=True)
    user_staff_set(actor=other, user=admin, staff=False)
    assert Client().get(f"/accounts/invite/{token}/").status_code == 404
    with pytest.raises(NotFound):
        invitation_accept(token=token, username="back-again", password="a long enough passphrase 1")
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="back-again").exists()


def test_a_password_reset_answers_the_same_for_known_unknown_and_sso_addresses(alice, mailoutbox):
    known = Client().post("/accounts/password/reset/", {"email": alice.email})
    unknown = Client().post("/accounts/password/reset/", {"email": "nobody-here@example.com"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])


def test_a_password_reset_link_works_once_and_not_for_a_disabled_account(alice, bob):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    def link(user):
        return f"/accounts/password/reset/{urlsafe_base64_encode(force_bytes(user.pk))}/" \
               f"{default_token_generator.make_token(user)}/"

    before = link(alice)  # the link as mailed, before it was used
    client = Client()
    opened = client.get(before, follow=True)
    assert b"new_password1" in opened.content  # a working link shows the form
    form_url = opened.redirect_chain[-1][0] if opened.redirect_chain else before
    done = client.post(form_url, {"new_password1": "Tr1cky new passphrase!", "new_password2": "Tr1cky new passphrase!"})
    assert done.status_code == 302, done.content[:500]
    again = "An0ther passphrase here"
    reused = Client().post(form_url, {"new_password1": again, "new_password2": again})
    assert reused.status_code != 302 or "complete" not in reused.get("Location", "")
    assert b"new_password1" not in Client().get(before, follow=True).content  # the mailed link is spent
    alice.refresh_from_db()
    assert alice.check_password("Tr1cky new passphrase!")
    bobs = link(bob)
    user_disable(actor=None, user_id=bob.pk)
    page = Client().get(bobs, follow=True)
    assert b"new_password1" not in page.content


# --- SCIM ------------------------------------------------------------------------------------

@pytest.fixture
def scim(admin):
    from portal.people.scim.services import scim_token_create

    row, plaintext = scim_token_create(actor=admin, name="idp")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    client.row = row
    return client


def _scim(client, method, path, body=None):
    import json

    data = json.dumps(body) if body is not None else ""
    return getattr(client, method)(f"/scim/v2{path}", data=data, content_type="application/scim+json")


PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def test_a_scim_token_cannot_touch_an_administrator(scim, admin):
    for op in ({"op": "replace", "path": "password", "value": "Taken 0ver passphrase!"},
               {"op": "replace", "path": "active", "value": False},
               {"op": "replace", "path": "userName", "value": "renamed-admin"},
               {"op": "replace", "path": "externalId", "value": "idp-subject-of-the-attacker"}):
        answer = _scim(scim, "patch", f"/Users/{admin.pk}", {"schemas": [PATCH_OP], "Operations": [op]})
        assert answer.status_code in (400, 403, 404), (op, answer.content)
    assert _scim(scim, "delete", f"/Users/{admin.pk}").status_code in (403, 404)
    admin.refresh_from_db()
    from portal.people.models import ExternalIdentity

    assert admin.is_active and admin.username == "root-admin" and not admin.check_password("Taken 0ver passphrase!")
    assert not ExternalIdentity.objects.filter(user=admin).exists()


def test_a_scim_token_cannot_change_a_local_group(scim, bob):
    local = group_create(actor=None, name="Local admins of things")
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": str(bob.pk)}]}]}
    assert _scim(scim, "patch", f"/Groups/{local.pk}", body).status_code == 404
    assert _scim(scim, "delete", f"/Groups/{local.pk}").status_code == 404
    assert not local.members.exists()


def test_a_revoked_or_wrong_scim_token_gets_401(scim, admin):
    from portal.people.scim.services import scim_token_revoke

    assert _scim(scim, "get", "/Users").status_code == 200
    scim_token_revoke(actor=admin, token=scim.row)
    assert _scim(scim, "get", "/Users").status_code == 401
    for header in ("Bearer ", "Bearer x", "Basic Zm9vOmJhcg==", ""):
        assert Client(HTTP_AUTHORIZATION=header).get("/scim/v2/Users").status_code == 401


def test_a_scim_deactivation_ends_sessions_and_tokens(scim, alice):
    token = token_issue(actor=alice, owner=alice, name="script")[1]
    web = web_as(alice)
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    assert _scim(scim, "patch", f"/Users/{alice.pk}", body).status_code == 200
    assert web.get("/spaces/").status_code == 302
    assert APIClient(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/spaces/").status_code in (401, 403)
    # a SCIM re-activation does not bring the revoked token back
    body["Operations"][0]["value"] = True
    assert _scim(scim, "patch", f"/Users/{alice.pk}", body).status_code == 200
    assert APIClient(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/spaces/").status_code in (401, 403)


# --- the /manage/ console --------------------------------------------------------------------

def test_the_console_is_404_to_everyone_but_administrators(alice, bob):
    web = web_as(alice)
    for url in ["/manage/", "/manage/users/", "/manage/groups/", "/manage/spaces/", "/manage/settings/",
                "/manage/webhooks/"]:
        assert web.get(url).status_code == 404, url
    for url, data in [(f"/manage/users/{bob.pk}/disable/", {}), (f"/manage/users/{alice.pk}/make-admin/", {}),
                      ("/manage/users/new/", {"username": "x", "password": "a long passphrase 1"}),
                      ("/manage/users/invite/", {"email": "x@example.com", "staff": "on"}),
                      ("/manage/groups/new/", {"name": "Mine"})]:
        assert web.post(url, data).status_code == 404, url
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert bob.is_active and not alice.is_superuser


def test_console_actions_need_post_and_the_csrf_token(admin, bob):
    web = web_as(admin, enforce_csrf_checks=True)
    assert web.get(f"/manage/users/{bob.pk}/disable/").status_code == 405
    assert web.post(f"/manage/users/{bob.pk}/disable/").status_code == 403
    assert web.post(f"/manage/users/{bob.pk}/make-admin/").status_code == 403
    assert web.post("/manage/groups/new/", {"name": "Mine"}).status_code == 403
    bob.refresh_from_db()
    assert bob.is_active and not bob.is_superuser


# --- webhooks --------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/", "http://[::1]/",
    "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://[::]/", "http://localhost:8000/",
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://[fd00::1]/", "http://10.0.0.1/",
    "http://100.64.0.1/",
    # IPv4 hidden in IPv6: NAT64, 6to4, IPv4-compatible and IPv4-translated forms of loopback and metadata
    "http://[64:ff9b::a9fe:a9fe]/", "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]/",
    "http://[2002:a9fe:a9fe::1]/", "http://[::7f00:1]/", "http://[::a9fe:a9fe]/", "http://[::ffff:0:7f00:1]/",
])
def test_webhooks_refuse_private_addresses_in_any_spelling(admin, url, settings):
    from portal.notify.services import webhook_create

    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(InvalidInput):
        webhook_create(actor=admin, url=url, events=["file.uploaded"])


def test_only_administrators_make_webhooks(alice, settings):
    from portal.notify.services import webhook_create

    settings.WEBHOOK_ALLOW_PRIVATE = True
    with pytest.raises((Forbidden, NotFound)):
        webhook_create(actor=alice, url="http://127.0.0.1:9/", events=["file.uploaded"])


class _Server:
    """An HTTP server on 127.0.0.1 answering every POST with ``status`` and ``headers``; counts the hits."""

    def __init__(self, status: int, headers: dict):
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                server.hits += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def test_a_webhook_delivery_does_not_follow_a_redirect(settings):
    from portal.notify.webhooks import post

    settings.WEBHOOK_ALLOW_PRIVATE = True  # both servers are local; the point is the redirect
    inner = _Server(200, {})
    outer = _Server(307, {"Location": inner.url})
    try:
        attempt = post(url=outer.url, secret="s", delivery_id=1, action="ping", body={})
    finally:
        outer.stop()
        inner.stop()
    assert outer.hits == 1 and inner.hits == 0
    assert not attempt.ok and attempt.code == 307


def test_a_webhook_host_that_rebinds_to_loopback_after_the_check_gets_nothing(settings, monkeypatch):
    """The attacker's DNS answers a public address to the check, then 127.0.0.1 to the connection."""
    import socket

    from portal.notify.webhooks import post

    settings.WEBHOOK_ALLOW_PRIVATE = False
    target = _Server(200, {})
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34"])

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.attacker.example":
            return real(host, port, *args, **kwargs)
        address = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    port = target.httpd.server_address[1]
    try:
        attempt = post(url=f"http://rebind.attacker.example:{port}/", secret="s", delivery_id=1, action="ping",
                       body={})
    finally:
        target.stop()
    assert target.hits == 0
    assert not attempt.ok and "private" in attempt.error


# --- sign-in by OpenID Connect ---------------------------------------------------------------

def test_an_oidc_callback_cannot_be_replayed_by_another_browser_or_twice(settings, oidc_provider, db):
    from tests.support.oidc_provider.flow import PASSWORD, ProviderBrowser, callback_path, configure_coffer, unique

    configure_coffer(settings, oidc_provider, base_urls=["http://testserver"])
    name = unique("eve")
    oidc_provider.user_set(name, password=PASSWORD, email=f"{name}@example.com", groups=[], active=True)
    browser = ProviderBrowser(oidc_provider, name)
    browser.sign_in()
    victim = Client()
    back = callback_path(browser.follow(victim.get("/oidc/authenticate/")["Location"]))
    thief = Client()
    thief.get("/oidc/authenticate/")  # a state of the thief's own, not the one in the captured address
    thief.get(back)
    assert "_auth_user_id" not in thief.session
    victim.get(back)
    assert "_auth_user_id" in victim.session
    thief.get(back)  # after the victim used it: still nothing for the thief
    assert "_auth_user_id" not in thief.session
    victim.post("/accounts/logout/")
    victim.get(back)  # the same code and state again, in the same browser
    assert "_auth_user_id" not in victim.session


def test_re_enabling_a_disabled_sharer_does_not_bring_their_shares_back(alice, bob, admin, make_user, team, tree):
    """user_enable: what disabling revoked stays revoked; that includes what they shared with colleagues."""
    from portal.accounts.services import user_enable

    sharer = make_user(username="leaver")
    member_add(actor=alice, space_id=team.pk, username="leaver", role="editor")
    share = internal_share_create(actor=sharer, node_id=tree["/Secret/Project"], user=bob, role="viewer")
    user_disable(actor=admin, user_id=sharer.pk)
    user_enable(actor=admin, user_id=sharer.pk)
    assert not _reaches(bob, tree["/Secret/Project/a.txt"])
    share.refresh_from_db()
    assert share.revoked_at is not None
    system = make_user(username="leaver2")
    member_add(actor=alice, space_id=team.pk, username="leaver2", role="editor")
    internal_share_create(actor=system, node_id=tree["/Secret/Project"], user=bob, role="viewer")
    user_disable(actor=None, user_id=system.pk)  # a directory sync or SCIM
    user_enable(actor=admin, user_id=system.pk)
    assert not _reaches(bob, tree["/Secret/Project/a.txt"])


def test_a_scim_token_cannot_take_an_administrators_name_or_filter_on_passwords(scim, admin):
    from portal.people.scim.services import UserFields, scim_user_create  # noqa: F401 - the service the view calls

    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ROOT-ADMIN",
            "emails": [{"value": "evil@example.com", "primary": True}], "password": "Taken 0ver passphrase!"}
    made = _scim(scim, "post", "/Users", body)
    assert made.status_code == 409, made.content
    probe = scim.get("/scim/v2/Users", {"filter": 'password sw "$argon"'})
    assert probe.status_code == 400
    assert b"argon" not in scim.get("/scim/v2/Users").content
