"""Complete coverage: every service that changes state writes an audit event.

Three lists, checked against introspection of every ``portal/*/services.py``
and ``portal/*/services/*.py`` module:

- ``CASES``: each state-changing service, how to call it, and the action it
  must record. The test runs it on a real database and fails unless a new
  event with that action was written (and, for good measure, unless a call
  that wrote any row also wrote an event).
- ``READS``: public helpers that change nothing (validation, reads, plans).
- ``NOT_AUDITED``: the few that write without an event on purpose, each
  with the reason. Adding here is a decision to review, not a way out.

A new public function in a services module that is in none of them fails
``test_every_service_function_is_classified``: decide which list it joins.
"""

from __future__ import annotations

import importlib
import inspect
import io
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

import uuid

from pycrdt import Text

from portal.accounts import services as accounts
from portal.collab import document as coedit_document
from portal.collab import services as coedit
from portal.collab.access import member_participation
from portal.collab.models import CoeditParticipant
from portal.collab.wopi import services as wopi
from portal.collab.wopi import tokens as wopi_tokens
from portal.accounts import services_invitations as invitations
from portal.accounts import services_passwords as passwords
from portal.adminpanel import services as adminpanel
from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.backups import crypto
from portal.backups.keys import keys_of, user_key_set
from portal.backups.models import Chunk, ChunkKind, Device, Pack, Snapshot, pack_key
from portal.backups.services import devices, gc, restore, retention, snapshots, verify
from portal.accounts import twofactor
from portal.core.errors import Locked, PortalError
from portal.dav import services as dav
from portal.files.models import Blob, FileVersion, Node
from portal.files.selectors import locate_node, locate_path, space_root
from portal.files.services import (batch, dav_ops, direct, downloads, maintenance, point_in_time, scrub, tree,
                                   uploads, versions)
from portal.files.services.common import new_blob_key
from portal.governance import services as governance
from portal.governance import services_ransomware as ransomware_response
from portal.governance import services_sensitive as sensitive
from portal.governance.models import ReviewItem
from portal.imports import services as imports
from portal.lifecycle import services as lifecycle
from portal.locks import services as locks
from portal.locks.models import Lock
from portal.notify import services as notify
from portal.previews import services as previews
from portal.search import services as search
from portal.shares import services as shares
from portal.shares import visits
from portal.shares.selectors import link_resolved, link_target
from portal.shares.models import ShareLink
from portal.people import services as people
from portal.people.scim import services as scim
from portal.people.directory import services as directory
from portal.people.directory.reader import Person
from portal.spaces import services as spaces
from portal.spaces.models import Membership, Space, SpaceKind
from portal.storage import get_store
from tests.factories import PASSWORD
from tests.files.conftest import FileMaker, Uploader

PORTAL = Path(__file__).resolve().parents[2] / "portal"
# Modules that write events though not named services: visitors' actions on
# share links, two-factor enrolment, sign-in (its receivers are private and
# are exercised through the login form in test_sign_in_events_are_recorded).
WRITER_MODULES = ("portal.shares.visits", "portal.accounts.twofactor", "portal.accounts.signin",
                  "portal.people.scim.services",
                  "portal.people.directory.services", "portal.collab.wopi.services", "portal.collab.wopi.tokens")


def service_functions() -> set[str]:
    """``module.function`` for every public function defined in a services module."""
    found = set()
    paths = [*PORTAL.glob("*/services.py"), *PORTAL.glob("*/services/*.py"), *PORTAL.glob("*/services_*.py")]
    modules = [".".join(p.relative_to(PORTAL.parent).with_suffix("").parts) for p in paths if p.name != "__init__.py"]
    for module_name in [*modules, *WRITER_MODULES]:
        module = importlib.import_module(module_name)
        for name, func in inspect.getmembers(module, inspect.isfunction):
            if func.__module__ == module.__name__ and not name.startswith("_"):
                found.add(f"{module.__name__}.{name}")
    return found


# --- Public helpers that change nothing ------------------------------------------
READS = {
    "portal.files.services.scrub.last_scrub": "the scheduled scrub's last event",
    "portal.files.services.scrub.sha256_of": "hashes a blob's stored bytes",
    "portal.locks.services.policy_timeout": "a number from the lock policy",
    "portal.locks.services.records_lock_refusals": "a decorator (its recording is tested as lock_refusal_record)",
    "portal.shares.services.link_label": "a label",
    "portal.dav.services.property_check": "validates a property before property_set",
    "portal.backups.services.devices.enroll_command": "the command line to show",
    "portal.backups.services.gc.reachable_chunks": "reads snapshot trees",
    "portal.backups.services.packs.clean_ids": "validation",
    "portal.backups.services.packs.upload_key": "the key a device's pack upload goes to",
    "portal.backups.services.treecheck.unsafe": "a predicate",
    "portal.backups.services.treecheck.check_entries": "validation (raises on an unsafe entry)",
    "portal.backups.services.treecheck.check_snapshot_trees": "reads and validates a snapshot's trees",
    "portal.backups.services.packs.chunks_locate": "reads the index",
    "portal.backups.services.reader.data_chunks": "reads a tree",
    "portal.backups.services.reader.locate": "reads the index",
    "portal.backups.services.restore.file_restore": "a read plan (restore_record audits the download)",
    "portal.backups.services.restore.folder_list": "reads a tree",
    "portal.backups.services.restore.resolve": "reads a tree",
    "portal.backups.services.restore.zip_restore": "a read plan (restore_record audits the download)",
    "portal.backups.services.retention.default_policy": "reads the default policy",
    "portal.backups.services.retention.policy_for": "reads a device's policy",
    "portal.backups.services.retention.snapshots_kept": "pure computation",
    "portal.governance.services.node_label": "a label",
    "portal.governance.services_ransomware.restore_url": "the restore page's link for an alert",
    "portal.governance.services_ransomware.ransomware_alert_list": "the console's list of alerts (audit events)",
    "portal.governance.services_sensitive.moderation_adapter": "the configured adapter object",
    "portal.governance.services_sensitive.configured_specs": "the enabled detectors, compiled",
    "portal.governance.services_sensitive.file_labels": "a file's labels",
    "portal.governance.services_sensitive.node_answer": "a file's policy",
    "portal.governance.services_sensitive.link_answer": "a file's policy for a new link (raises for block; "
                                                       "share_link_create records share.created)",
    "portal.governance.services_sensitive.clean_labels": "validation",
    "portal.governance.services_sensitive.refuse_in_shared_folder": "a check (raises) before a file in a shared "
                                                                    "folder is served",
    "portal.files.services.common.schedule_blob_collection": "queues the (housekeeping) blob collection",
    "portal.files.services.direct.free_name": "picks a free name",
    "portal.files.services.downloads.content_type_for": "a content type",
    "portal.files.services.downloads.inline_allowed": "a predicate",
    "portal.files.services.downloads.download_plan": "a read plan (download_record audits the download)",
    "portal.files.services.downloads.safe_member_part": "name cleaning",
    "portal.files.services.downloads.zip_members": "reads the tree",
    "portal.files.services.downloads.folder_zip": "a read plan (zip_record audits the download)",
    "portal.files.services.tree.ensure_name_free": "raises on a clash",
    "portal.files.services.tree.subtree_bytes": "a sum",
    "portal.files.services.uploads.access_upload": "a checked lookup",
    "portal.files.services.uploads.part_urls": "presigned URLs",
    "portal.files.services.uploads.parts_report": "reads the store",
    "portal.files.services.uploads.plan_parts": "arithmetic",
    "portal.files.services.versions.locate_file": "a checked lookup",
    "portal.files.services.uploads.refuse_locked": "raises when a lock refuses (the calling service records it)",
    "portal.files.services.common.too_large_error": "an error to raise",
    "portal.files.services.common.refuse_too_large": "raises on a file over the size limit",
    "portal.files.services.common.new_blob_key": "a fresh key",
    "portal.files.services.versions.version_get": "a lookup",
    "portal.files.services.point_in_time.point_restore_preview": "a read plan (the apply records the restore)",
    "portal.files.services.point_in_time.point_restore_get": "a checked lookup",
    "portal.files.services.point_in_time.parse_at": "validation",
    "portal.files.services.point_in_time.plan_out": "serialisation",
    "portal.files.services.point_in_time.run_out": "serialisation",
    "portal.scanning.services.version_label": "a label",
    "portal.shares.visits.link_open": "finds the link a token names",
    "portal.shares.visits.audience_allows": "a predicate",
    "portal.accounts.twofactor.required_for": "a predicate",
    "portal.accounts.twofactor.confirmed_device": "a lookup",
    "portal.accounts.twofactor.owes_second_factor": "a predicate",
    "portal.accounts.twofactor.qr_svg": "an image",
    "portal.accounts.twofactor.secret_text": "text to type in",
    "portal.accounts.signin.lockout_response": "the response to a throttled sign-in (axes records it)",
    "portal.people.scim.services.acting_as": "a context: events inside name the SCIM token as actor",
    "portal.people.directory.services.as_directory": "a context: events inside name the directory as actor",
    "portal.accounts.services_invitations.invitation_gone": "the error for a link that does not work",
    "portal.collab.services.session_updates": "reads a session's stored updates",
    "portal.collab.services.participant_epoch": "reads a connection's access epoch",
    "portal.collab.wopi.services.mismatch_of": "the WOPI lock mismatch error for a file's lock state",
    "portal.collab.wopi.services.relative_name": "the name a PutRelativeFile asks for (validated, made unique)",
    "portal.collab.wopi.tokens.digest_of": "the SHA-256 a WOPI token is stored as",
    "portal.collab.wopi.tokens.token_find": "the live WOPI token with this value for a file",
}

# --- Writes without an event of their own, on purpose ------------------------------
NOT_AUDITED = {
    # Queueing follow-up tasks (with the caller's change, which records its own event) and relaying them.
    "portal.outbox.services.enqueue": "a follow-up of the caller's change, written in its transaction",
    "portal.outbox.services.enqueue_many": "follow-ups of the caller's change, written in its transaction",
    "portal.outbox.services.publish": "hands queued tasks to the broker",
    "portal.outbox.services.publish_committed": "hands a committed transaction's tasks to the broker",
    "portal.outbox.services.relay": "publishes again what the broker refused or lost",
    # The audit writer itself.
    "portal.audit.services.record": "it is the event",
    "portal.audit.services.record_read": "it is the event (of a read, committed on its own)",
    "portal.audit.services.record_many": "it is the events (many, in one statement)",
    # Steps inside an audited service's transaction, never called on their own.
    "portal.files.services.tree.ensure_folders": "inside folder_create / version_add, which record",
    "portal.files.services.uploads.version_add": "inside upload_complete / file_put, which record file.uploaded",
    "portal.files.services.uploads.after_new_version": "inside upload_complete / file_put: queues hashing and "
                                                       "the scan, and makes the pending verdict",
    "portal.dav.services.properties_copy": "inside node_copy (WebDAV COPY), which records file.copied",
    "portal.shares.services.share_links_follow": "inside node_move; records share.changed / share.revoked "
                                                 "(tests/shares/test_security_moves.py)",
    "portal.governance.services_sensitive.link_gate_new": "inside share_link_create, which records share.created "
                                                          "with the sensitivity answer",
    "portal.governance.services_sensitive.gates_apply": "inside version_label, the review decisions and "
                                                        "label_policy_set, which record",
    # Bookkeeping nobody acts on: presence and claim timestamps, staging rows.
    "portal.backups.services.devices.device_authenticate": "last_seen_at, at most once a minute",
    "portal.people.scim.services.scim_token_authenticate": "last_used_at, at most once a minute (a refused "
                                                           "token records token.rejected)",
    "portal.backups.services.packs.chunks_known": "claimed_at, the GC's grace marker",
    "portal.backups.services.packs.pack_create": "a staging pack; the snapshot commit records backup.completed",
    "portal.backups.services.packs.pack_index": "the pack's index; the snapshot commit records backup.completed",
    "portal.backups.services.packs.pack_check": "checked_at of a pack that passed (one that fails records "
                                                "backup.verified, failure: test_pack_check.py)",
    "portal.backups.services.packs.pack_check_pending": "pack_check for every unchecked pack",
    "portal.files.services.uploads.upload_start": "a staging session; complete/abort are audited",
    "portal.scanning.services.scan_queue": "a pending verdict; its outcome is audited by scan_version",
    "portal.scanning.services.scan_queue_many": "pending verdicts; their outcomes are audited by scan_version",
    "portal.accounts.twofactor.pending_device": "an unconfirmed authenticator; device_confirm is audited",
    "portal.accounts.services_passwords.password_reset_request": "counts in the cache and queues the mail task; "
                                                                 "password_reset_mail_send records it once sent",
    # Housekeeping of bytes no file, version or link refers to any more.
    "portal.files.services.maintenance.blobs_collect": "deletes unreferenced blobs (their purge was audited)",
    "portal.files.services.maintenance.uploads_sweep": "removes expired staging sessions and their parts",
    "portal.files.services.maintenance.orphans_sweep": "removes store objects no row refers to",
    "portal.files.services.upload_release.store_release": "gives a closed upload's bytes back to the store (its abort or expiry was audited)",
    "portal.files.services.upload_release.release_now_or_later": "store_release now, or left to the upload sweep",
    "portal.files.services.upload_release.uploads_release": "the upload sweep's retry of store_release",
    "portal.files.services.upload_release.unowned_uploads_abort": "aborts store-side uploads no session owns (the orphan sweep)",
    # WebDAV client metadata: dead properties and the lock owner's XML.
    "portal.dav.services.property_set": "a client's dead property (not content, not access)",
    "portal.dav.services.property_remove": "a client's dead property (not content, not access)",
    "portal.dav.services.lock_owner_remember": "the owner XML of a lock (the lock itself is audited)",
    "portal.dav.services.lock_owner_forget": "the owner XML of a lock (the lock itself is audited)",
    # Notifications: a user's own read marks; the system's webhook queue for an event already recorded.
    "portal.notify.services.notifications_mark_read": "the user's own read marks (as a mail client's)",
    "portal.notify.services.deliveries_create": "webhook deliveries of an event already recorded",
    # Co-editing: the shared document and its keep-alive; who joined, left and what was saved is audited.
    "portal.collab.services.session_open": "starts the shared document; the websocket join that follows "
                                           "records coedit.joined",
    "portal.collab.services.updates_append": "keystrokes: audited by the join and by the version they end up in "
                                             "(coedit.saved with its co-authors)",
    "portal.collab.services.heartbeat": "seen_at of live connections and their coedit locks' expiry",
    "portal.collab.services.participant_checked": "a connection's access was looked up again (a marker)",
    "portal.collab.services.participants_recheck": "inside the transaction of an access change, which records "
                                                   "its own event: the space's connections must be checked again",
    # Content scanning is being built alongside; its services record their
    # events (scan.*) and are tested in tests/scanning. Move them into CASES
    # once the app settles.
    "portal.scanning.services.scan_version": "tested in tests/scanning (scan.flagged / scan.error)",
    # Derived files (thumbnails, PDF renditions) made by the system from clean bytes: nothing a user
    # did, nothing that changes what anyone may read; opening a file is audited by view_record.
    "portal.previews.services.rendition_request": "a pending derived file and its conversion queued",
    "portal.previews.services.thumbnail_queue": "queues the thumbnail task after a clean scan",
    "portal.previews.services.thumbnail_make": "a thumbnail in the derived-files storage",
    "portal.previews.services.rendition_make": "a PDF rendition in the derived-files storage",
    "portal.scanning.services.quarantine_release": "tested in tests/scanning (scan.released)",
    "portal.scanning.services.quarantine_delete": "tested in tests/scanning (scan.deleted)",
    "portal.collab.wopi.tokens.wopi_tokens_expire": "deletes WOPI tokens past their expiry (they had stopped "
                                                    "working then; issuing one was audited)",
}


# --- The state-changing services, each with a call ----------------------------------

@dataclass(frozen=True)
class Case:
    action: str
    call: Callable[[SimpleNamespace], object]
    setup: Callable[[SimpleNamespace], None] | None = None


KEEP_ONE = {"keep_last": 1, "keep_hourly": 0, "keep_daily": 0, "keep_weekly": 0, "keep_monthly": 0}


VISITOR = visits.Visitor()


def _sync_unanswered():
    """A sync against a directory that does not answer: its failure is audited."""
    from django.test import override_settings

    from tests.support.slapd import _free_port

    with override_settings(LDAP_URI=f"ldap://127.0.0.1:{_free_port()}/", LDAP_USER_BASE="dc=example", LDAP_TIMEOUT=1):
        _refused(directory.directory_sync, actor=None)


def _refused(call, **kwargs):
    try:
        call(**kwargs)
    except PortalError:
        return
    raise AssertionError(f"{call.__name__} accepted a wrong answer")


def _protected_link(w):
    w.link = shares.share_link_create(actor=w.alice, node_id=w.doc.pk, permission="download",
                                      password="a long link password 42")[0]


def _people_link(w):
    w.link = shares.share_link_create(actor=w.alice, node_id=w.doc.pk, permission="download", audience="people",
                                      emails=["pat@example.com"])[0]


def _drop_link(w):
    w.link = shares.share_link_create(actor=w.alice, node_id=w.root.pk, permission="upload")[0]


def _visit(w, *, folder: str = "target") -> dict:
    """The link as a visit resolves it and the shared node as its target."""
    opened = link_resolved(w.link.pk)
    return {"opened": opened, folder: link_target(opened, "")}


def _pending_totp(w):
    w.totp = twofactor.pending_device(w.alice)


def _totp_code(device) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def _invitation(w):
    w.invitation, w.invitation_token = invitations.invitation_create(actor=w.admin, email="new@example.com")


def _token(w):
    w.token = accounts.token_issue(actor=w.alice, owner=w.alice, name="cli")[0]


def _ransomware_burst(w):
    """Bob's window in Redis holds a suspicious write in the team space (as the detector leaves it)."""
    import time

    from portal.governance import ransomware

    ransomware.forget(f"user:{w.bob.pk}")
    ransomware.client().zadd(ransomware.window_key(f"user:{w.bob.pk}", ransomware.SUSPICIOUS),
                             {f"0:{w.team.pk}:x": time.time()})


def _id_version(w):
    from tests.support.dlp_text import seed_builtin_detectors

    seed_builtin_detectors()  # a transactional test earlier in the session flushed the seeded ones
    from portal.scanning.services import scan_version

    data = "身份证 110105199003071239".encode()
    w.labelled = direct.file_put(actor=w.alice, space_id=w.team.pk, path="/ids.txt", size=len(data),
                                 fileobj=io.BytesIO(data))
    scan_version(w.labelled.pk)


def _label_review(w):
    _id_version(w)
    sensitive.version_label(w.labelled.pk)
    from portal.governance.models import LabelReview

    w.label_review = LabelReview.objects.get(version=w.labelled)


def _link(w):
    w.link = shares.share_link_create(actor=w.alice, node_id=w.doc.pk, permission="download")[0]


def _internal_share(w):
    w.internal = shares.internal_share_create(actor=w.alice, node_id=w.doc.pk, user=w.bob, role="viewer")


def _expired_link(w):
    _link(w)
    ShareLink.objects.filter(pk=w.link.pk).update(expires_at=timezone.now() - timedelta(minutes=1))


def _lock(w):
    w.lock = locks.lock_acquire(actor=w.alice, node=w.doc)


def _coedit(w):
    """/notes.md open for co-editing (its session started)."""
    data = b"Hi\n"
    note = direct.file_put(actor=w.alice, space_id=w.team.pk, path="/notes.md", fileobj=io.BytesIO(data),
                           size=len(data)).node
    w.participation = member_participation(locate_node(w.alice, note.pk), w.alice)
    w.session = coedit.session_open(participation=w.participation)


def _coedit_joined(w):
    _coedit(w)
    w.participant = uuid.uuid4()
    coedit.session_join(participation=w.participation, session_id=w.session.pk, connection_id=w.participant,
                        process="test")


def _coedit_typed(w):
    doc = coedit_document.doc_from(coedit.session_updates(session_id=w.session.pk))
    before = doc.get_state()
    doc.get(coedit_document.TEXT_NAME, type=Text).insert(0, "Oh, ")
    coedit.updates_append(session_id=w.session.pk, updates=[(doc.get_update(before), w.alice.pk, w.participant)])


def _coedit_edited(w):
    _coedit_joined(w)
    _coedit_typed(w)


def _webhook(w):
    w.hook = notify.webhook_create(actor=w.admin, url="https://93.184.216.34/hook", events=["*"])[0]


def _import_job(w):
    """An import job of the administrator (an editor of the team space) from a folder under IMPORT_ROOTS."""
    from django.conf import settings
    from django.test import override_settings

    Membership.objects.create(space=w.team, user=w.admin, role="editor")
    folder = Path(settings.STORAGE_ROOT).parent
    with override_settings(IMPORT_ROOTS=[str(folder)]):
        w.import_job = imports.import_job_create(actor=w.admin, space_id=w.team.pk, source_kind="folder",
                                                 source={"path": str(folder)})


def _expired_lock(w):
    _lock(w)
    Lock.objects.filter(pk=w.lock.pk).update(expires_at=timezone.now() - timedelta(minutes=1))


def _refusal(w):
    exc = Locked("locked")
    exc.refusal = {"node": w.doc, "space": w.doc.space, "actor": w.bob, "path": "/Q3.xlsx", "operation": "rename", "lock_ids": [1]}
    return exc


def _member(w):
    spaces.member_add(actor=w.alice, space_id=w.team.pk, username="bob", role="viewer")


def _no_personal_space(w):
    Space.objects.filter(created_by=w.bob, kind=SpaceKind.PERSONAL).delete()


def _enrollment(w):
    w.enrollment = devices.enrollment_token_create(actor=w.alice, owner=w.alice)[1]


def _device(w):
    _enrollment(w)
    w.device = devices.device_enroll(token=w.enrollment, hostname="laptop", platform="linux")[0]


def _tree_chunk(w) -> str:
    pack = Pack.objects.create(pack_id="ab" * 16, device=w.device, size=10, indexed_at=timezone.now(),
                               owner=w.device.user, key_set=user_key_set(w.device.user))
    Chunk.objects.create(id="cd" * 32, pack=pack, owner=pack.owner, offset=0, length=10, raw_length=10,
                         kind=ChunkKind.TREE)
    return "cd" * 32


def _sealed_empty_tree(w) -> str:
    """A real pack holding one sealed, empty tree: what a commit checks."""
    keys = keys_of(user_key_set(w.device.user))
    plaintext = crypto.tree_encode([])
    cid = crypto.chunk_id(keys.id_key, plaintext)
    blob = crypto.seal_blob(keys.data_key, cid, plaintext)
    pack = Pack.objects.create(pack_id="ef" * 16, device=w.device, size=len(blob), indexed_at=timezone.now(),
                               owner=w.device.user, key_set=user_key_set(w.device.user))
    get_store().put(pack_key(pack.pack_id), io.BytesIO(blob))
    Chunk.objects.create(id=cid, pack=pack, owner=pack.owner, offset=0, length=len(blob), raw_length=len(plaintext),
                         kind=ChunkKind.TREE)
    w.root = cid
    return cid


def _snapshots(w, count=1):
    _device(w)
    root = _tree_chunk(w)
    now = timezone.now()
    w.snapshots = [Snapshot.objects.create(device=w.device, root=root, started_at=now - timedelta(hours=i + 1),
                                           finished_at=now - timedelta(hours=i), paths=["/home"],
                                           key_set=user_key_set(w.device.user))
                   for i in range(count)]


def _stale_pack(w):
    Pack.objects.create(pack_id="ef" * 16, size=10, created_at=timezone.now() - timedelta(days=365),
                        key_set=user_key_set(w.alice))


def _located(w, path: str):
    return locate_path(w.alice, w.team.pk, path)


def _trashed(w):
    tree.node_trash(actor=w.alice, node_id=w.doc.pk)


def _two_versions(w):
    for data in (b"first", b"second!"):
        w.file = direct.file_put(actor=w.alice, space_id=w.team.pk, path="/notes.txt", fileobj=io.BytesIO(data),
                                 size=len(data)).node


def _changed_after_t(w):
    direct.file_put(actor=w.alice, space_id=w.team.pk, path="/r.txt", fileobj=io.BytesIO(b"one"), size=3)
    w.at = timezone.now()
    direct.file_put(actor=w.alice, space_id=w.team.pk, path="/r.txt", fileobj=io.BytesIO(b"two"), size=3)


def _restore_queued(w):
    _changed_after_t(w)
    w.run = point_in_time.point_restore_start(actor=w.alice, space_id=w.team.pk, at=w.at, queue=True)


def _prunable(w):
    _two_versions(w)
    Space.objects.filter(pk=w.team.pk).update(keep_versions=1)


def _stored_file(path: str, data: bytes) -> batch.StoredFile:
    from portal.storage import get_store

    key = new_blob_key()
    get_store().put(key, io.BytesIO(data))
    return batch.StoredFile(tag=path, path=path, key=key, size=len(data))


def _started_upload(w):
    client = APIClient()
    client.force_authenticate(w.alice)
    started = Uploader().start(client, w.team, "/big.bin", b"x" * 100)
    assert started.status_code == 201, started.content
    Uploader().send(client, started.json(), b"x" * 100)
    w.upload = started.json()["id"]


def _mismatched_blob(w):
    version = direct.file_put(actor=w.alice, space_id=w.team.pk, path="/c.bin", fileobj=io.BytesIO(b"bytes"), size=5)
    Blob.objects.filter(pk=version.blob_id).update(sha256=None, expected_sha256="0" * 64)
    w.blob = version.blob_id


def _group(w):
    w.group = people.group_create(actor=w.admin, name="Sales")
    people.group_member_add(actor=w.admin, group=w.group, user=w.bob)


def _scim_token(w):
    w.scim_token, _ = scim.scim_token_create(actor=w.admin, name="okta")


def _scim_group(w):
    _scim_token(w)
    w.scim_group = scim.scim_group_create(token=w.scim_token, name="Tour Guides", user_ids=[w.bob.pk])


def _group_in_team(w):
    _group(w)
    spaces.space_group_add(actor=w.alice, space_id=w.team.pk, group_id=w.group.pk, role="editor")


def _lock_of_a_former_writer(w):
    """bob holds a lock in the team space, and then loses his right to write there."""
    spaces.member_add(actor=w.alice, space_id=w.team.pk, username=w.bob.username, role="editor")
    locks.lock_acquire(actor=w.bob, node=w.doc)
    Membership.objects.filter(space=w.team, user=w.bob).update(role="viewer")


def _wopi_file(w):
    return locate_node(w.alice, w.doc.pk)


def _wopi_locked(w):
    wopi.wopi_lock(actor=w.alice, located=_wopi_file(w), lock="W1")


CASES: dict[str, Case] = {
    # Office documents (WOPI)
    "portal.collab.wopi.tokens.wopi_token_issue": Case(Action.WOPI_TOKEN_ISSUED, lambda w: (
        wopi_tokens.wopi_token_issue(actor=w.alice, located=_wopi_file(w)))),
    "portal.collab.wopi.services.wopi_lock": Case(Action.WOPI_LOCKED, _wopi_locked),
    "portal.collab.wopi.services.wopi_lock_refresh": Case(Action.LOCK_REFRESHED, lambda w: wopi.wopi_lock_refresh(
        actor=w.alice, located=_wopi_file(w), lock="W1"), setup=_wopi_locked),
    "portal.collab.wopi.services.wopi_unlock": Case(Action.WOPI_UNLOCKED, lambda w: wopi.wopi_unlock(
        actor=w.alice, located=_wopi_file(w), lock="W1"), setup=_wopi_locked),
    "portal.collab.wopi.services.wopi_file_put": Case(Action.WOPI_SAVED, lambda w: wopi.wopi_file_put(
        actor=w.alice, located=_wopi_file(w), lock="W1", fileobj=io.BytesIO(b"PK"), size=2), setup=_wopi_locked),
    "portal.collab.wopi.services.wopi_file_rename": Case(Action.FILE_RENAMED, lambda w: wopi.wopi_file_rename(
        actor=w.alice, located=_wopi_file(w), lock="", requested="Q4")),
    "portal.collab.wopi.services.wopi_file_put_relative": Case(Action.WOPI_SAVED, lambda w: (
        wopi.wopi_file_put_relative(actor=w.alice, located=_wopi_file(w), name="Q3.pdf", overwrite=False,
                                    fileobj=io.BytesIO(b"%PDF"), size=4))),
    # Accounts
    "portal.accounts.services.user_create": Case(Action.USER_CREATED, lambda w: accounts.user_create(
        actor=w.admin, username="carol", password=PASSWORD)),
    "portal.accounts.services.user_disable": Case(Action.USER_DISABLED, lambda w: accounts.user_disable(
        actor=w.admin, user_id=w.bob.pk)),
    "portal.accounts.services.token_issue": Case(Action.TOKEN_ISSUED, _token),
    "portal.accounts.services.user_credentials_suspend": Case(Action.TOKEN_REVOKED, lambda w: (
        accounts.user_credentials_suspend(actor=None, user_id=w.alice.pk, by="test")), setup=_token),
    "portal.accounts.services.token_revoke": Case(Action.TOKEN_REVOKED, lambda w: accounts.token_revoke(
        actor=w.alice, token_id=w.token.pk), setup=_token),
    "portal.accounts.services.token_rejected_record": Case(Action.TOKEN_REJECTED, lambda w: accounts.token_rejected_record(
        token=w.token, reason="expired"), setup=_token),
    "portal.accounts.services.time_zone_set": Case(Action.TIME_ZONE_CHANGED, lambda w: accounts.time_zone_set(
        actor=w.alice, time_zone="Asia/Shanghai")),
    "portal.accounts.services.profile_update": Case(Action.PROFILE_CHANGED, lambda w: accounts.profile_update(
        actor=w.alice, display_name="Alice A.", email="a@example.com", language="zh-hans")),
    "portal.accounts.services.user_enable": Case(Action.USER_ENABLED, lambda w: accounts.user_enable(
        actor=w.admin, user_id=w.bob.pk), setup=lambda w: type(w.bob).objects.filter(pk=w.bob.pk).update(
        is_active=False)),
    "portal.accounts.services.user_staff_set": Case(Action.USER_STAFF_CHANGED, lambda w: accounts.user_staff_set(
        actor=w.admin, user=w.bob, staff=True)),
    "portal.accounts.services.user_two_factor_reset": Case(Action.USER_TWO_FACTOR_RESET, lambda w: (
        accounts.user_two_factor_reset(actor=w.admin, user=w.alice)), setup=_pending_totp),
    "portal.accounts.services.user_password_reset_send": Case(Action.USER_PASSWORD_RESET_SENT, lambda w: (
        accounts.user_password_reset_send(actor=w.admin, user=w.bob))),
    "portal.accounts.services_invitations.invitation_create": Case(Action.INVITATION_CREATED, lambda w: (
        invitations.invitation_create(actor=w.admin, email="new@example.com"))),
    "portal.accounts.services_invitations.invitation_revoke": Case(Action.INVITATION_REVOKED, lambda w: (
        invitations.invitation_revoke(actor=w.admin, invitation_id=w.invitation.pk)), setup=_invitation),
    "portal.accounts.services_invitations.invitation_accept": Case(Action.INVITATION_ACCEPTED, lambda w: (
        invitations.invitation_accept(token=w.invitation_token, username="newcomer", password=PASSWORD)),
        setup=_invitation),
    "portal.accounts.services_passwords.password_reset_mail_send": Case(Action.PASSWORD_RESET_REQUESTED, lambda w: (
        passwords.password_reset_mail_send(user_id=w.alice.pk, language="en", ip="192.0.2.1"))),
    "portal.accounts.services_passwords.password_reset_complete": Case(Action.PASSWORD_RESET_DONE, lambda w: (
        passwords.password_reset_complete(user=w.alice, password=PASSWORD + "!"))),
    # Spaces, members, quotas and policies
    "portal.spaces.services.space_create": Case(Action.SPACE_CREATED, lambda w: spaces.space_create(
        actor=w.alice, name="Projects")),
    "portal.spaces.services.personal_space_create": Case(Action.SPACE_CREATED, lambda w: spaces.personal_space_create(
        user=w.bob), setup=_no_personal_space),
    "portal.spaces.services.space_update": Case(Action.SPACE_QUOTA_CHANGED, lambda w: spaces.space_update(
        actor=w.admin, space_id=w.team.pk, quota=12345)),
    "portal.spaces.services.space_trash": Case(Action.SPACE_TRASHED, lambda w: spaces.space_trash(
        actor=w.alice, space_id=w.team.pk)),
    "portal.spaces.services.space_restore": Case(Action.SPACE_RESTORED, lambda w: spaces.space_restore(
        actor=w.admin, space_id=w.team.pk), setup=lambda w: spaces.space_trash(actor=w.alice, space_id=w.team.pk)),
    "portal.spaces.services.member_add": Case(Action.MEMBER_ADDED, _member),
    "portal.spaces.services.space_owner_set": Case(Action.MEMBER_ADDED, lambda w: spaces.space_owner_set(
        actor=w.admin, space_id=w.team.pk, username=w.bob.username)),
    # Storage lifecycle: a space's own tiering policy (moves, packing, restores: tests/lifecycle)
    "portal.lifecycle.services.space_tier_policy_set": Case(Action.SPACE_TIER_POLICY_CHANGED, lambda w: (
        lifecycle.space_tier_policy_set(actor=w.admin, space=w.team, tier="", current_days=0, old_days=0,
                                        trash_days=0))),
    "portal.lifecycle.services.space_tier_policy_clear": Case(Action.SPACE_TIER_POLICY_CHANGED, lambda w: (
        lifecycle.space_tier_policy_clear(actor=w.admin, space=w.team)), setup=lambda w: (
        lifecycle.space_tier_policy_set(actor=w.admin, space=w.team, tier="", current_days=0, old_days=0,
                                        trash_days=0))),
    # Admin console: site settings
    "portal.adminpanel.services.site_settings_update": Case(Action.SITE_SETTINGS_CHANGED, lambda w: (
        adminpanel.site_settings_update(actor=w.admin, space_creation="admins"))),
    "portal.spaces.services.member_change_role": Case(Action.MEMBER_ROLE_CHANGED, lambda w: spaces.member_change_role(
        actor=w.alice, space_id=w.team.pk, user_id=w.bob.pk, role="editor"), setup=_member),
    "portal.spaces.services.member_remove": Case(Action.MEMBER_REMOVED, lambda w: spaces.member_remove(
        actor=w.alice, space_id=w.team.pk, user_id=w.bob.pk), setup=_member),
    # Groups, and groups in spaces
    "portal.people.services.group_create": Case(Action.GROUP_CREATED, lambda w: people.group_create(
        actor=w.admin, name="Sales")),
    "portal.people.services.group_rename": Case(Action.GROUP_RENAMED, lambda w: people.group_rename(
        actor=w.admin, group=w.group, name="Sales EMEA"), setup=_group),
    "portal.people.services.group_delete": Case(Action.GROUP_DELETED, lambda w: people.group_delete(
        actor=w.admin, group=w.group), setup=_group),
    "portal.people.services.group_member_add": Case(Action.GROUP_MEMBER_ADDED, lambda w: people.group_member_add(
        actor=w.admin, group=w.group, user=w.alice), setup=_group),
    "portal.people.services.group_member_remove": Case(Action.GROUP_MEMBER_REMOVED, lambda w: (
        people.group_member_remove(actor=w.admin, group=w.group, user=w.bob)), setup=_group),
    "portal.people.services.group_members_set": Case(Action.GROUP_MEMBER_ADDED, lambda w: people.group_members_set(
        actor=None, group=w.group, user_ids=[w.alice.pk, w.bob.pk]), setup=_group),
    "portal.people.services.user_groups_set": Case(Action.GROUP_MEMBER_REMOVED, lambda w: people.user_groups_set(
        actor=None, user=w.bob, groups=[], source="local"), setup=_group),
    "portal.people.services.group_ensure": Case(Action.GROUP_CREATED, lambda w: people.group_ensure(
        actor=None, source="ldap", external_id="cn=sales,dc=example", name="Sales")),
    # SCIM provisioning (tests/people/test_scim_*.py drive them through /scim/v2/).
    "portal.people.scim.services.scim_token_create": Case(Action.SCIM_TOKEN_CREATED, lambda w: (
        scim.scim_token_create(actor=w.admin, name="okta"))),
    "portal.people.scim.services.scim_token_revoke": Case(Action.SCIM_TOKEN_REVOKED, lambda w: (
        scim.scim_token_revoke(actor=w.admin, token=w.scim_token)), setup=_scim_token),
    "portal.people.scim.services.scim_user_create": Case(Action.USER_CREATED, lambda w: scim.scim_user_create(
        token=w.scim_token, fields=scim.UserFields(username="carol", external_id="00u1")), setup=_scim_token),
    "portal.people.scim.services.scim_user_update": Case(Action.SCIM_USER_UPDATED, lambda w: scim.scim_user_update(
        token=w.scim_token, user=w.bob, fields=scim.UserFields(username="bob", email="robert@example.com")),
        setup=_scim_token),
    "portal.people.scim.services.scim_user_deactivate": Case(Action.USER_DISABLED, lambda w: (
        scim.scim_user_deactivate(token=w.scim_token, user=w.bob)), setup=_scim_token),
    "portal.people.scim.services.scim_group_create": Case(Action.GROUP_CREATED, lambda w: scim.scim_group_create(
        token=w.scim_token, name="Tour Guides", user_ids=[w.bob.pk]), setup=_scim_token),
    "portal.people.scim.services.scim_group_update": Case(Action.GROUP_RENAMED, lambda w: scim.scim_group_update(
        token=w.scim_token, group=w.scim_group, name="Guides", user_ids=[]), setup=_scim_group),
    "portal.people.scim.services.scim_group_delete": Case(Action.GROUP_DELETED, lambda w: scim.scim_group_delete(
        token=w.scim_token, group=w.scim_group), setup=_scim_group),
    # LDAP (tests/people/test_ldap_*.py run both against a real slapd).
    "portal.people.directory.services.directory_user_signed_in": Case(Action.DIRECTORY_USER_LINKED, lambda w: (
        directory.directory_user_signed_in(user=w.bob, created=False, groups=[], person=Person(
            dn="uid=bob,dc=example", subject="bob-entry-uuid", username="bob", fields={"email": "b@example.com"})))),
    "portal.people.directory.services.directory_sync": Case(Action.DIRECTORY_SYNCED, lambda w: _sync_unanswered()),
    "portal.spaces.services.space_group_add": Case(Action.SPACE_GROUP_ADDED, lambda w: spaces.space_group_add(
        actor=w.alice, space_id=w.team.pk, group_id=w.group.pk, role="editor"), setup=_group),
    "portal.spaces.services.space_group_role_set": Case(Action.SPACE_GROUP_ROLE_CHANGED, lambda w: (
        spaces.space_group_role_set(actor=w.alice, space_id=w.team.pk, group_id=w.group.pk, role="viewer")),
        setup=_group_in_team),
    "portal.spaces.services.space_group_remove": Case(Action.SPACE_GROUP_REMOVED, lambda w: (
        spaces.space_group_remove(actor=w.alice, space_id=w.team.pk, group_id=w.group.pk)), setup=_group_in_team),
    "portal.spaces.services.locks_drop_where_not_writer": Case(Action.LOCK_BROKEN, lambda w: (
        spaces.locks_drop_where_not_writer(actor=None, user=w.bob)), setup=_lock_of_a_former_writer),
    "portal.shares.services.space_share_policy_update": Case(Action.SPACE_POLICY_CHANGED, lambda w: (
        shares.space_share_policy_update(actor=w.alice, space_id=w.team.pk, changes={"require_password": True}))),
    # Files
    "portal.files.services.tree.folder_create": Case(Action.FOLDER_CREATED, lambda w: tree.folder_create(
        actor=w.alice, space_id=w.team.pk, path="/Finance")),
    "portal.files.services.tree.node_rename": Case(Action.FILE_RENAMED, lambda w: tree.node_rename(
        actor=w.alice, node_id=w.doc.pk, name="Q4.xlsx")),
    "portal.files.services.tree.node_move": Case(Action.FILE_MOVED, lambda w: tree.node_move(
        actor=w.alice, node_id=w.doc.pk, path="/Archive/Q3.xlsx"),
        setup=lambda w: tree.folder_create(actor=w.alice, space_id=w.team.pk, path="/Archive")),
    "portal.files.services.tree.node_copy": Case(Action.FILE_COPIED, lambda w: tree.node_copy(
        actor=w.alice, node_id=w.doc.pk, path="/Q3 copy.xlsx")),
    "portal.files.services.tree.node_trash": Case(Action.FILE_DELETED, _trashed),
    "portal.files.services.dav_ops.dav_delete": Case(Action.FILE_DELETED, lambda w: dav_ops.dav_delete(
        actor=w.alice, target=_located(w, "/Q3.xlsx"))),
    "portal.files.services.dav_ops.dav_move": Case(Action.FILE_MOVED, lambda w: dav_ops.dav_move(
        actor=w.alice, source=_located(w, "/Q3.xlsx"), space_id=w.team.pk, path="/Q4.xlsx")),
    "portal.files.services.dav_ops.dav_copy": Case(Action.FILE_COPIED, lambda w: dav_ops.dav_copy(
        actor=w.alice, source=_located(w, "/Q3.xlsx"), space_id=w.team.pk, path="/Q3 copy.xlsx")),
    "portal.files.services.dav_ops.dav_lock_acquire": Case(Action.LOCK_ACQUIRED, lambda w: dav_ops.dav_lock_acquire(
        actor=w.alice, target=_located(w, "/Q3.xlsx"), owner_xml="", scope="exclusive", depth="0")),
    "portal.files.services.dav_ops.dav_lock_release": Case(Action.LOCK_RELEASED, lambda w: dav_ops.dav_lock_release(
        actor=w.alice, token=w.lock.token), setup=_lock),
    "portal.files.services.tree.trash_restore": Case(Action.FILE_RESTORED, lambda w: tree.trash_restore(
        actor=w.alice, node_id=w.doc.pk), setup=_trashed),
    "portal.files.services.tree.trash_purge": Case(Action.FILE_PURGED, lambda w: tree.trash_purge(
        actor=w.alice, node_id=w.doc.pk), setup=_trashed),
    "portal.files.services.tree.purge": Case(Action.FILE_PURGED, lambda w: tree.purge(
        Node.objects.get(pk=w.doc.pk), actor=w.alice), setup=_trashed),
    "portal.files.services.tree.trash_purge_expired": Case(Action.FILE_PURGED, lambda w: tree.trash_purge_expired(
        older_than=timezone.now() + timedelta(days=1)), setup=_trashed),
    "portal.files.services.direct.file_put": Case(Action.FILE_UPLOADED, lambda w: direct.file_put(
        actor=w.alice, space_id=w.team.pk, path="/a.txt", fileobj=io.BytesIO(b"hello"), size=5)),
    "portal.files.services.batch.files_put_many": Case(Action.FILE_UPLOADED, lambda w: batch.files_put_many(
        actor=w.alice, space_id=w.team.pk, files=[_stored_file("/many.txt", b"hello")])),
    "portal.files.services.uploads.upload_complete": Case(Action.FILE_UPLOADED, lambda w: uploads.upload_complete(
        actor=w.alice, upload_id=w.upload), setup=_started_upload),
    "portal.files.services.uploads.upload_finish": Case(Action.FILE_UPLOADED, lambda w: uploads.upload_finish(
        actor=w.alice, upload_id=w.upload), setup=_started_upload),
    "portal.files.services.uploads.upload_abort": Case(Action.UPLOAD_ABORTED, lambda w: uploads.upload_abort(
        actor=w.alice, upload_id=w.upload), setup=_started_upload),
    "portal.files.services.versions.version_restore": Case(Action.FILE_VERSION_RESTORED, lambda w: (
        versions.version_restore(actor=w.alice, node_id=w.file.pk, number=1)), setup=_two_versions),
    "portal.files.services.point_in_time.point_restore_start": Case(Action.SPACE_RESTORED_TO_POINT, lambda w: (
        point_in_time.point_restore_start(actor=w.alice, space_id=w.team.pk, at=w.at)), setup=_changed_after_t),
    "portal.files.services.point_in_time.point_restore_run": Case(Action.SPACE_RESTORED_TO_POINT, lambda w: (
        point_in_time.point_restore_run(run_id=w.run.pk)), setup=_restore_queued),
    "portal.files.services.versions.versions_prune": Case(Action.FILE_VERSIONS_PRUNED, lambda w: (
        versions.versions_prune(space_id=w.team.pk)), setup=_prunable),
    "portal.files.services.downloads.download_record": Case(Action.FILE_DOWNLOADED, lambda w: (
        downloads.download_record(actor=w.alice, located=locate_node(w.alice, w.doc.pk),
                                  version=FileVersion.objects.get(node=w.doc)))),
    "portal.search.services.star_toggle": Case(Action.FILE_STARRED, lambda w: search.star_toggle(
        actor=w.alice, node_id=w.doc.pk)),
    "portal.previews.services.view_record": Case(Action.FILE_VIEWED, lambda w: previews.view_record(
        actor=w.alice, located=locate_node(w.alice, w.doc.pk), version=FileVersion.objects.get(node=w.doc))),
    "portal.files.services.downloads.zip_record": Case(Action.FILE_ZIP_DOWNLOADED, lambda w: downloads.zip_record(
        actor=w.alice, download=downloads.folder_zip(w.root))),
    "portal.files.services.maintenance.blob_hash": Case(Action.FILE_INTEGRITY_FAILED, lambda w: (
        maintenance.blob_hash(w.blob)), setup=_mismatched_blob),
    "portal.files.services.scrub.blobs_scrub": Case(Action.BLOB_SCRUBBED, lambda w: scrub.blobs_scrub(full=True)),
    # Shares
    "portal.shares.services.share_link_create": Case(Action.SHARE_CREATED, _link),
    "portal.shares.services.share_link_update": Case(Action.SHARE_CHANGED, lambda w: shares.share_link_update(
        actor=w.alice, link_id=w.link.pk, changes={"watermark": "confidential"}), setup=_link),
    "portal.shares.services.share_link_revoke": Case(Action.SHARE_REVOKED, lambda w: shares.share_link_revoke(
        actor=w.alice, link_id=w.link.pk), setup=_link),
    "portal.shares.services.shares_expire": Case(Action.SHARE_EXPIRED, lambda w: shares.shares_expire(),
                                                 setup=_expired_link),
    "portal.shares.services.internal_share_create": Case(Action.NODE_SHARED, _internal_share),
    "portal.shares.services.internal_share_change": Case(Action.NODE_SHARE_CHANGED, lambda w: (
        shares.internal_share_change(actor=w.alice, share_id=w.internal.pk, role="editor")), setup=_internal_share),
    "portal.shares.services.internal_share_revoke": Case(Action.NODE_UNSHARED, lambda w: (
        shares.internal_share_revoke(actor=w.alice, share_id=w.internal.pk)), setup=_internal_share),
    # Co-editing
    "portal.collab.services.session_join": Case(Action.COEDIT_JOINED, lambda w: coedit.session_join(
        participation=w.participation, session_id=w.session.pk, connection_id=uuid.uuid4(), process="test"),
        setup=_coedit),
    "portal.collab.services.participant_leave": Case(Action.COEDIT_LEFT, lambda w: coedit.participant_leave(
        participant_id=w.participant), setup=_coedit_joined),
    "portal.collab.services.session_save": Case(Action.COEDIT_SAVED, lambda w: coedit.session_save(
        session_id=w.session.pk), setup=_coedit_edited),
    "portal.collab.services.session_close": Case(Action.COEDIT_SAVED, lambda w: coedit.session_close(
        session_id=w.session.pk), setup=lambda w: (_coedit_edited(w), CoeditParticipant.objects.all().delete())),
    "portal.collab.services.sweep": Case(Action.COEDIT_LEFT, lambda w: coedit.sweep(
        now=timezone.now() + timedelta(hours=1)), setup=_coedit_joined),
    # Locks
    "portal.locks.services.lock_acquire": Case(Action.LOCK_ACQUIRED, _lock),
    "portal.locks.services.lock_refresh": Case(Action.LOCK_REFRESHED, lambda w: locks.lock_refresh(
        actor=w.alice, token=w.lock.token), setup=_lock),
    "portal.locks.services.lock_release": Case(Action.LOCK_RELEASED, lambda w: locks.lock_release(
        actor=w.alice, token=w.lock.token), setup=_lock),
    "portal.locks.services.lock_break": Case(Action.LOCK_BROKEN, lambda w: locks.lock_break(
        actor=w.admin, lock_id=w.lock.pk), setup=_lock),
    "portal.locks.services.locks_expire": Case(Action.LOCK_EXPIRED, lambda w: locks.locks_expire(),
                                               setup=_expired_lock),
    "portal.locks.services.locks_drop_for_member": Case(Action.LOCK_BROKEN, lambda w: locks.locks_drop_for_member(
        actor=w.admin, user=w.lock.owner, space=w.lock.node.space), setup=_lock),
    "portal.locks.services.lock_refusal_record": Case(Action.LOCK_WRITE_REFUSED, lambda w: locks.lock_refusal_record(
        exc=_refusal(w))),
    "portal.dav.services.lock_refusal_record": Case(Action.LOCK_WRITE_REFUSED, lambda w: dav.lock_refusal_record(
        actor=w.bob, method="PUT", path="/Team/Q3.xlsx")),
    # Devices and backups
    "portal.backups.services.devices.enrollment_token_create": Case(Action.DEVICE_ENROLLMENT_TOKEN_CREATED,
                                                                    _enrollment),
    "portal.backups.services.devices.device_enroll": Case(Action.DEVICE_ENROLLED, lambda w: devices.device_enroll(
        token=w.enrollment, hostname="laptop", platform="linux"), setup=_enrollment),
    "portal.backups.services.devices.device_update": Case(Action.DEVICE_RENAMED, lambda w: devices.device_update(
        actor=w.alice, device=w.device, name="work laptop"), setup=_device),
    "portal.backups.services.devices.device_revoke": Case(Action.DEVICE_REVOKED, lambda w: devices.device_revoke(
        actor=w.admin, device=w.device), setup=_device),
    "portal.backups.services.devices.device_rekey": Case(Action.DEVICE_REKEYED, lambda w: devices.device_rekey(
        device=w.device), setup=lambda w: (_device(w), Device.objects.filter(pk=w.device.pk).update(key_set=None))),
    "portal.backups.services.devices.device_report_failure": Case(Action.BACKUP_FAILED, lambda w: (
        devices.device_report_failure(device=w.device, error="disk full")), setup=_device),
    "portal.backups.services.snapshots.snapshot_create": Case(Action.BACKUP_COMPLETED, lambda w: (
        snapshots.snapshot_create(device=w.device, root=w.root, started_at=timezone.now().isoformat(),
                                  finished_at=timezone.now().isoformat(), paths=["/home"])),
        setup=lambda w: (_device(w), _sealed_empty_tree(w))),
    "portal.backups.services.restore.restore_record": Case(Action.BACKUP_RESTORED, lambda w: restore.restore_record(
        actor=w.alice, snapshot=w.snapshots[0], path="home/a.txt", kind="file", files=1, size=3),
        setup=_snapshots),
    "portal.backups.services.retention.retention_set": Case(Action.BACKUP_RETENTION_CHANGED, lambda w: (
        retention.retention_set(actor=w.alice, device=w.device, values=KEEP_ONE)), setup=_device),
    "portal.backups.services.retention.retention_apply": Case(Action.BACKUP_RETENTION_APPLIED, lambda w: (
        retention.retention_apply(device_id=w.device.pk)),
        setup=lambda w: (_snapshots(w, 3), retention.retention_set(actor=w.alice, device=w.device,
                                                                   values=KEEP_ONE))),
    "portal.backups.services.gc.gc_collect": Case(Action.BACKUP_GC, lambda w: gc.gc_collect(), setup=_stale_pack),
    "portal.backups.services.verify.backup_verify": Case(Action.BACKUP_VERIFIED, lambda w: (
        verify.backup_verify(sample=0))),
    # Visitors of share links
    "portal.shares.visits.view_record": Case(Action.SHARE_VIEWED, lambda w: visits.view_record(
        **_visit(w), visitor=VISITOR), setup=_link),
    "portal.shares.visits.preview_record": Case(Action.SHARE_PREVIEWED, lambda w: visits.preview_record(
        **_visit(w), visitor=VISITOR), setup=_link),
    "portal.shares.visits.download_record": Case(Action.SHARE_DOWNLOADED, lambda w: visits.download_record(
        **_visit(w), visitor=VISITOR, version=FileVersion.objects.get(node=w.doc)), setup=_link),
    "portal.shares.visits.password_try": Case(Action.SHARE_PASSWORD_FAILED, lambda w: _refused(
        visits.password_try, opened=link_resolved(w.link.pk), visitor=VISITOR, password="wrong guess"),
        setup=_protected_link),
    "portal.shares.visits.code_send": Case(Action.SHARE_CODE_SENT, lambda w: visits.code_send(
        opened=link_resolved(w.link.pk), visitor=VISITOR, email="pat@example.com"), setup=_people_link),
    "portal.shares.visits.code_try": Case(Action.SHARE_CODE_FAILED, lambda w: _refused(
        visits.code_try, opened=link_resolved(w.link.pk), visitor=VISITOR, email="pat@example.com", code="000000"),
        setup=_people_link),
    "portal.shares.visits.upload": Case(Action.SHARE_UPLOADED, lambda w: visits.upload(
        **_visit(w, folder="folder"), visitor=VISITOR, name="drop.txt", fileobj=io.BytesIO(b"drop"), size=4),
        setup=_drop_link),
    # Notifications and webhooks
    "portal.notify.services.follow_set": Case(Action.FILE_FOLLOWED, lambda w: notify.follow_set(
        actor=w.alice, node_id=w.doc.pk, following=True)),
    "portal.notify.services.email_preferences_set": Case(Action.NOTIFY_PREFERENCES_CHANGED, lambda w: (
        notify.email_preferences_set(actor=w.alice, modes={"shared": "off"}))),
    "portal.notify.services.webhook_create": Case(Action.WEBHOOK_CREATED, _webhook),
    "portal.notify.services.webhook_change": Case(Action.WEBHOOK_CHANGED, lambda w: notify.webhook_change(
        actor=w.admin, webhook_id=w.hook.pk, active=False), setup=_webhook),
    "portal.notify.services.webhook_delete": Case(Action.WEBHOOK_DELETED, lambda w: notify.webhook_delete(
        actor=w.admin, webhook_id=w.hook.pk), setup=_webhook),
    "portal.notify.services.webhook_ping": Case(Action.WEBHOOK_PINGED, lambda w: notify.webhook_ping(
        actor=w.admin, webhook_id=w.hook.pk), setup=_webhook),
    # Two-factor sign-in
    "portal.accounts.twofactor.device_confirm": Case("auth.two_factor_enabled", lambda w: twofactor.device_confirm(
        user=w.alice, device=w.totp, code=_totp_code(w.totp)), setup=_pending_totp),
    "portal.accounts.twofactor.devices_remove": Case("auth.two_factor_disabled", lambda w: (
        twofactor.devices_remove(user=w.alice))),
    # Imports (migration service); the runs' import.finished / import.failed: tests/imports
    "portal.imports.services.import_job_create": Case(Action.IMPORT_JOB_CREATED, _import_job),
    "portal.imports.services.import_job_delete": Case(Action.IMPORT_JOB_DELETED, lambda w: imports.import_job_delete(
        actor=w.admin, job_id=w.import_job.pk), setup=_import_job),
    "portal.imports.services.import_run_start": Case(Action.IMPORT_STARTED, lambda w: imports.import_run_start(
        actor=w.admin, job_id=w.import_job.pk, queue=False), setup=_import_job),
    # Governance: legal holds and retention (what they protect: tests/governance)
    "portal.governance.services.hold_create": Case(Action.GOVERNANCE_HOLD_CREATED, lambda w: governance.hold_create(
        actor=w.admin, kind="space", target_id=w.team.pk, reason="litigation 17")),
    "portal.governance.services.hold_release": Case(Action.GOVERNANCE_HOLD_RELEASED, lambda w: (
        governance.hold_release(actor=w.admin, hold_id=w.hold.pk, reason="settled")), setup=lambda w: setattr(
        w, "hold", governance.hold_create(actor=w.admin, kind="user", target_id=w.bob.pk, reason="audit"))),
    "portal.governance.services.retention_set": Case(Action.GOVERNANCE_RETENTION_SET, lambda w: (
        governance.retention_set(actor=w.admin, space_id=w.team.pk, days=30))),
    "portal.governance.services.retention_clear": Case(Action.GOVERNANCE_RETENTION_CLEARED, lambda w: (
        governance.retention_clear(actor=w.admin, policy_id=w.policy.pk)), setup=lambda w: setattr(
        w, "policy", governance.retention_set(actor=w.admin, space_id=w.team.pk, days=30))),
    "portal.governance.services_ransomware.ransomware_respond": Case(
        Action.GOVERNANCE_RANSOMWARE_SUSPECTED, lambda w: ransomware_response.ransomware_respond(
            suspect=f"user:{w.bob.pk}"), setup=_ransomware_burst),
    "portal.governance.services.review_resolve": Case(Action.GOVERNANCE_REVIEW_RESOLVED, lambda w: (
        governance.review_resolve(actor=w.admin, item_id=w.review.pk)), setup=lambda w: setattr(
        w, "review", ReviewItem.objects.create(node=w.doc))),
    "portal.governance.services_sensitive.version_label": Case(
        Action.CONTENT_LABELLED, lambda w: sensitive.version_label(w.labelled.pk), setup=_id_version),
    "portal.governance.services_sensitive.label_review_approve": Case(
        Action.CONTENT_LABEL_APPROVED, lambda w: sensitive.label_review_approve(
            actor=w.admin, review_id=w.label_review.pk), setup=_label_review),
    "portal.governance.services_sensitive.label_review_reject": Case(
        Action.CONTENT_LABEL_REJECTED, lambda w: sensitive.label_review_reject(
            actor=w.admin, review_id=w.label_review.pk), setup=_label_review),
    "portal.governance.services_sensitive.label_review_relabel": Case(
        Action.CONTENT_RELABELLED, lambda w: sensitive.label_review_relabel(
            actor=w.admin, review_id=w.label_review.pk, labels="public"), setup=_label_review),
    "portal.governance.services_sensitive.label_policy_set": Case(
        Action.CONTENT_POLICY_SET, lambda w: sensitive.label_policy_set(actor=w.admin, label="personal-id",
                                                                        action="block")),
    "portal.governance.services_sensitive.detector_save": Case(
        Action.CONTENT_DETECTOR_SAVED, lambda w: sensitive.detector_save(
            actor=w.admin, name="secrets", kind="keywords", label="confidential", keywords="机密")),
}


def test_every_service_function_is_classified():
    found = service_functions()
    listed = set(CASES) | set(READS) | set(NOT_AUDITED)
    assert sorted(found - listed) == [], "new service functions: add each to CASES (with a call), READS or NOT_AUDITED"
    assert sorted(listed - found) == [], "listed functions that no longer exist"
    assert not set(CASES) & set(READS) and not set(CASES) & set(NOT_AUDITED) and not set(READS) & set(NOT_AUDITED)


def test_every_action_code_is_recorded_somewhere():
    """Each Action member is used by code that records it (a code nothing
    uses hints at an event that got lost). The list and the sentences don't count."""
    skip = {PORTAL / "audit" / "actions.py", PORTAL / "audit" / "sentences.py"}
    source = "\n".join(p.read_text() for p in PORTAL.rglob("*.py") if "migrations" not in p.parts and p not in skip)
    unused = [a.name for a in Action if f"Action.{a.name}" not in source and f'"{a.value}"' not in source]
    assert unused == []


_WRITE = re.compile(r'^\s*(INSERT|UPDATE|DELETE)\b(?!.*"audit_auditevent")', re.IGNORECASE | re.DOTALL)


@pytest.fixture
def world(alice, bob, make_user, settings, tmp_path):
    settings.STORAGE_ROOT = tmp_path / "objects"  # GC and sweeps look at the whole store
    from portal.storage import get_store

    get_store().ensure_bucket()
    admin = make_user(username="root", is_staff=True, is_superuser=True)
    team = spaces.space_create(actor=alice, name="Team")
    root = space_root(team)
    root.path_names = []
    doc = FileMaker()(root, "Q3.xlsx")
    return SimpleNamespace(alice=alice, bob=bob, admin=admin, team=team, root=root, doc=doc)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_state_changing_service_records_its_event(world, name, django_capture_on_commit_callbacks):
    case = CASES[name]
    if case.setup:
        case.setup(world)
    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=False):
        case.call(world)
    new = list(AuditEvent.objects.filter(id__gt=before).values_list("action", flat=True))
    writes = [q["sql"] for q in queries.captured_queries if _WRITE.match(q["sql"])]
    assert case.action in new, f"{name} recorded {new or 'nothing'}, not {case.action}"
    assert new or not writes, f"{name} changed state without an event: {writes[:3]}"


def test_sign_in_events_are_recorded(alice, settings):
    """Success, failure, throttling and sign-out, through the login form."""
    from django.test import Client

    browser = Client()
    form = {"username": "alice", "password": PASSWORD}
    assert browser.post("/accounts/login/", form, REMOTE_ADDR="192.0.2.10").status_code == 302
    browser.post("/accounts/logout/", REMOTE_ADDR="192.0.2.10")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        browser.post("/accounts/login/", {**form, "password": "wrong"}, REMOTE_ADDR="192.0.2.11")
    recorded = set(AuditEvent.objects.values_list("action", flat=True))
    assert {Action.LOGIN, Action.LOGOUT, Action.LOGIN_FAILED, Action.LOGIN_THROTTLED} <= recorded
