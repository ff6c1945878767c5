"""Every purge path respects legal holds and retention.

``test_every_purge_path_is_listed`` scans the portal's source for code that
deletes file versions, nodes, blobs, backup snapshots or packs, containers,
or objects in a store, and fails when a function doing so is not listed in
``PURGE_PATHS``: each entry names the test below proving the path keeps
what a hold or a retention protects, or says why it cannot lose such data.
"""

from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.accounts import services as accounts
from portal.backups.keys import user_key_set
from portal.backups.models import Chunk, ChunkKind, Pack, Snapshot, pack_key
from portal.backups import tasks as backup_tasks
from portal.backups.services import devices, gc, retention
from portal.files import tasks as file_tasks
from portal.files.models import Blob, FileVersion, Node
from portal.files.services import maintenance, tree
from portal.governance import ending
from portal.governance.models import ReviewItem
from portal.governance.selectors import UnderLegalHold, UnderRetention
from portal.lifecycle import policies
from portal.scanning.models import ScanState, ScanVerdict
from portal.scanning.services import quarantine_delete
from portal.spaces.models import Membership, Space
from portal.spaces.services import space_create
from portal.storage import get_store
from tests.governance.conftest import age, trash
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

PORTAL = Path(__file__).resolve().parents[2] / "portal"
_MODELS = r"(FileVersion|Node|Blob|Snapshot|Pack|Chunk|Container|Space)"
# What a deletion is called on: a model's rows, such a row, or a store.
_RECEIVER = re.compile(rf"^({_MODELS}\.objects\b.*|node|blob|pack|version|snapshot|container|space|row"
                       r"|store|self\.store|get_store\(\)|tier_store\(.*\))$")

_RAW = re.compile(r"\bDELETE\s+FROM\b|\bTRUNCATE\b", re.IGNORECASE)

EXEMPT = "exempt: "
PURGE_PATHS = {
    "portal.files.services.tree.purge": "test_trash_purge_is_refused_under_a_hold_for_everyone",
    "portal.files.services.versions.versions_prune": "test_version_pruning_keeps_held_and_retained_versions",
    "portal.scanning.services._drop_version": "test_quarantine_delete_is_refused_under_a_hold",
    "portal.backups.services.retention.retention_apply": "test_backup_retention_keeps_a_held_users_snapshots",
    "portal.backups.services.gc._sweep": "test_backup_gc_keeps_a_held_users_packs",
    "portal.backups.services.gc._repack": "test_backup_gc_keeps_a_held_users_packs",
    "portal.files.services.maintenance.blobs_collect": "test_blob_collection_and_orphan_sweep_keep_held_bytes",
    "portal.files.services.maintenance._delete_unreferenced": "test_blob_collection_and_orphan_sweep_keep_held_bytes",
    "portal.lifecycle.moves.blob_move": "test_a_held_blob_never_changes_tier",
    "portal.backups.services.gc._sweep_unindexed": EXEMPT + "packs never indexed: no snapshot ever used them",
    "portal.backups.services.gc._delete_rowless": EXEMPT + "pack objects no row names: never part of a backup",
    "portal.backups.services.packs._reject": EXEMPT + "a pack that failed its check: the device uploads it again",
    "portal.files.services.direct.file_put": EXEMPT + "its own staging object when the write fails (no version yet)",
    "portal.files.services.maintenance._expire": EXEMPT + "an expired upload's staging object (no version yet)",
    "portal.files.services.upload_release.store_release": EXEMPT + "a closed upload's parts or assembled object, "
                                                           "deleted only when no version (blob) uses it",
    "portal.files.services.maintenance.blob_hash": EXEMPT + "a duplicate blob, once its versions point at the twin",
    "portal.lifecycle.copying.copy_blob": EXEMPT + "its own half-written copy at the destination",
    "portal.lifecycle.copying._verify_container": EXEMPT + "its own container that failed verification",
    "portal.lifecycle.sweeps.superseded_delete": EXEMPT + "the old place of moved bytes (a held blob never moves)",
    "portal.lifecycle.sweeps.abandoned_containers_delete": EXEMPT + "containers of a run that never finished",
    "portal.lifecycle.sweeps._delete_unnamed": EXEMPT + "container objects no row names",
    "portal.imports.transfer.forget": EXEMPT + "its own staging objects of files that never became versions",
    "portal.audit.retention.events_purge_expired": EXEMPT + "audit events past their retention, not files",
}


def purge_paths() -> set[str]:
    """``module.function`` of every function outside the store's own code that deletes such rows or objects."""
    found = set()
    for path in PORTAL.rglob("*.py"):
        parts = path.relative_to(PORTAL).parts
        if "migrations" in parts or parts[0] in ("storage", "governance"):
            continue
        module = ".".join(path.relative_to(PORTAL.parent).with_suffix("").parts)
        for top in ast.parse(path.read_text()).body:
            for name, body in _functions(top):
                for call in ast.walk(body):
                    if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                            and call.func.attr in ("delete", "_raw_delete")
                            and _RECEIVER.match(ast.unparse(call.func.value))):
                        found.add(f"{module}.{name}")
                    elif isinstance(call, ast.Constant) and isinstance(call.value, str) and _RAW.search(call.value):
                        found.add(f"{module}.{name}")   # raw SQL deletes count too
    return found


def _functions(top):
    if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef)):
        yield top.name, top
    elif isinstance(top, ast.ClassDef):
        for item in top.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield f"{top.name}.{item.name}", item


def test_every_purge_path_is_listed():
    found = purge_paths()
    assert sorted(found - set(PURGE_PATHS)) == [], "new purge paths: make them ask governance, then list them here"
    assert sorted(set(PURGE_PATHS) - found) == [], "listed purge paths that no longer delete anything"
    proofs = {proof for proof in PURGE_PATHS.values() if not proof.startswith(EXEMPT)}
    assert all(callable(globals().get(proof)) for proof in proofs), "each listed proof is a test in this module"


# --- Files: trash purge (by hand, by age), pruning, retention's end ----------------------------------------------

def test_trash_purge_is_refused_under_a_hold_for_everyone(signed_in, alice, admin, put, hold, team):
    version = put("/contract.pdf")
    node = trash(alice, version.node)
    held = hold("folder", node)
    Membership.objects.create(space=team, user=admin, role="manager")   # an administrator managing the space
    for actor in (alice, admin):
        response = signed_in(actor).delete(f"/api/v1/trash/{node.pk}")
        body = assert_error(response, 409, "legal_hold")
        assert "contract.pdf" in body["message"] and "legal hold" in body["message"]
        assert body["detail"]["hold_id"] == held.pk
    assert FileVersion.objects.filter(pk=version.pk).exists()
    assert get_store().exists(version.blob.key)


def test_trash_purge_under_retention_names_the_date(signed_in, alice, put, retain):
    version = put("/minutes.txt")
    age(version, days=10)
    retain(30)
    node = trash(alice, version.node)
    body = assert_error(signed_in(alice).delete(f"/api/v1/trash/{node.pk}"), 409, "under_retention")
    until = timezone.localtime(FileVersion.objects.get(pk=version.pk).created_at + timedelta(days=30))
    assert until.strftime("%Y-%m-%d") in body["message"]
    age(version, days=31)   # the period is over: purging works again
    assert signed_in(alice).delete(f"/api/v1/trash/{node.pk}").status_code in (200, 204)
    assert not FileVersion.objects.filter(pk=version.pk).exists()


def test_a_folder_holding_one_held_file_cannot_be_purged(signed_in, alice, put, hold, team):
    tree.folder_create(actor=alice, space_id=team.pk, path="/Case")
    held_file = put("/Case/evidence.eml")
    put("/Case/other.txt")
    hold("folder", held_file.node)
    folder = trash(alice, Node.objects.get(space=team, name="Case"))
    assert_error(signed_in(alice).delete(f"/api/v1/trash/{folder.pk}"), 409, "legal_hold")
    assert Node.objects.filter(parent=folder).count() == 2


def test_trash_expiry_skips_what_is_protected_and_resolves_once_per_batch(alice, bob, put, hold, retain, team,
                                                                          settings):
    tree.folder_create(actor=alice, space_id=team.pk, path="/Kept")
    retain(60, folder=Node.objects.get(space=team, name="Kept"))
    held, retained = put("/held.txt"), put("/Kept/retained.txt")
    free = [put(f"/free-{i}.txt") for i in range(5)]
    hold("folder", held.node)
    for version in (held, retained, *free):
        trash(alice, version.node, days_ago=settings.TRASH_DAYS + 1)
    with CaptureQueriesContext(connection) as queries:
        assert tree.trash_purge_expired(older_than=timezone.now() - timedelta(days=settings.TRASH_DAYS)) == 5
    hold_reads = [q for q in queries.captured_queries if 'FROM "governance_legalhold"' in q["sql"]]
    assert len(hold_reads) == 1, "holds are read once per batch, not once per item"
    assert set(Node.objects.filter(trashed_at__isnull=False).values_list("pk", flat=True)) == {
        held.node_id, retained.node_id}


def test_version_pruning_keeps_held_and_retained_versions(alice, put, hold, retain, team):
    Space.objects.filter(pk=team.pk).update(keep_versions=1)
    retained = [put("/plan.txt", f"draft {i}".encode()) for i in range(3)]
    held = [put("/brief.txt", f"brief {i}".encode()) for i in range(3)]
    free = [put("/memo.txt", f"memo {i}".encode()) for i in range(3)]
    age(*retained, *held, *free, days=20)
    retain(30)
    hold("folder", held[0].node)
    assert file_tasks.apply_version_retention() == 0   # everything is younger than 30 days or held
    retain(10)                                          # shorter: plan.txt and memo.txt may lose old versions
    assert file_tasks.apply_version_retention() == 4
    assert FileVersion.objects.filter(node=held[0].node).count() == 3
    assert FileVersion.objects.filter(node=free[0].node).count() == 1


def test_retention_end_deletes_or_flags_and_skips_held_files(admin, alice, put, hold, retain, team):
    tree.folder_create(actor=alice, space_id=team.pk, path="/Review")
    folder = Node.objects.get(space=team, name="Review")
    old, held, young = put("/old.txt"), put("/held.txt"), put("/young.txt")
    flagged = put("/Review/check.txt")
    age(old, held, flagged, days=40)
    retain(30, end_action="delete")
    retain(30, folder=folder, end_action="review")
    hold("folder", held.node)
    report = ending.retention_end_apply()
    assert report["deleted"] == 1 and report["flagged"] == 1 and report["skipped"] >= 1
    assert not Node.objects.filter(pk=old.node_id).exists()
    assert Node.objects.filter(pk__in=[held.node_id, young.node_id, flagged.node_id]).count() == 3
    assert ReviewItem.objects.filter(node=flagged.node, resolved_at__isnull=True).count() == 1
    assert ending.retention_end_apply()["flagged"] == 0, "a file is flagged once"


def test_quarantine_delete_is_refused_under_a_hold(admin, alice, put, hold):
    version = put("/infected.doc")
    ScanVerdict.objects.update_or_create(version=version, defaults={
        "label": "/infected.doc v1", "state": ScanState.FLAGGED, "scanner": "clamav", "signature": "Eicar"})
    verdict = ScanVerdict.objects.get(version=version)
    hold("user", alice)
    with pytest.raises(UnderLegalHold):
        quarantine_delete(actor=admin, verdict_id=verdict.pk)
    assert FileVersion.objects.filter(pk=version.pk).exists()
    assert ScanVerdict.objects.get(pk=verdict.pk).state == ScanState.FLAGGED   # still quarantined, unreadable


def test_blob_collection_and_orphan_sweep_keep_held_bytes(alice, put, hold, settings):
    version = put("/ledger.xlsx")
    hold("user", alice)
    node = trash(alice, version.node, days_ago=settings.TRASH_DAYS + 1)
    file_tasks.purge_expired_trash()
    maintenance.blobs_collect()
    maintenance.orphans_sweep(now=timezone.now() + timedelta(hours=settings.ORPHAN_GRACE_HOURS + 1))
    assert Node.objects.filter(pk=node.pk).exists()
    assert Blob.objects.filter(pk=version.blob_id).exists() and get_store().exists(version.blob.key)


# --- Moves: a protected subtree cannot be carried out of what protects it ---------------------------------------

def test_moving_out_of_a_held_or_retained_folder_is_refused(signed_in, alice, put, hold, retain, team):
    for path in ("/Held", "/Kept", "/Elsewhere"):
        tree.folder_create(actor=alice, space_id=team.pk, path=path)
    held_file, kept_file = put("/Held/a.txt"), put("/Kept/b.txt")
    hold("folder", Node.objects.get(space=team, name="Held"))
    retain(90, folder=Node.objects.get(space=team, name="Kept"))
    client = signed_in(alice)
    moved = client.post(f"/api/v1/files/{held_file.node_id}/move", {"path": "/Elsewhere/a.txt"}, format="json")
    assert_error(moved, 409, "legal_hold_move")
    moved = client.post(f"/api/v1/files/{kept_file.node_id}/move", {"path": "/Elsewhere/b.txt"}, format="json")
    assert_error(moved, 409, "retention_move")
    inside = client.post(f"/api/v1/files/{kept_file.node_id}/move", {"path": "/Kept/c.txt"}, format="json")
    assert inside.status_code == 200, inside.content
    # moving in is covered at once: the newcomer's versions are kept too
    newcomer = put("/new.txt")
    assert client.post(f"/api/v1/files/{newcomer.node_id}/move", {"path": "/Kept/new.txt"},
                       format="json").status_code == 200
    node = trash(alice, newcomer.node)
    assert_error(client.delete(f"/api/v1/trash/{node.pk}"), 409, "under_retention")


# --- Backups: retention and GC of a held user's devices --------------------------------------------------------

@pytest.fixture
def device(alice):
    token = devices.enrollment_token_create(actor=alice, owner=alice)[1]
    return devices.device_enroll(token=token, hostname="laptop", platform="linux")[0]


def test_backup_retention_keeps_a_held_users_snapshots(alice, admin, device, hold):
    retention.retention_set(actor=admin, device=device, values={"keep_last": 1, "keep_hourly": 0, "keep_daily": 0,
                                                                "keep_weekly": 0, "keep_monthly": 0})
    now, key_set = timezone.now(), user_key_set(alice)
    for i in range(3):
        Snapshot.objects.create(device=device, root="cd" * 32, started_at=now - timedelta(hours=i + 1),
                                finished_at=now - timedelta(hours=i), paths=["/home"], key_set=key_set)
    hold("user", alice)
    assert retention.retention_apply(device_id=device.pk)["removed"] == []
    with CaptureQueriesContext(connection) as queries:
        assert backup_tasks.apply_retention() == 0
    assert sum('FROM "governance_legalhold"' in q["sql"] for q in queries.captured_queries) == 1
    assert Snapshot.objects.filter(device=device).count() == 3


def test_backup_gc_keeps_a_held_users_packs(alice, device, hold, store_root, settings):
    old = timezone.now() - timedelta(hours=settings.BACKUP_GC_GRACE_HOURS + 1)
    pack = Pack.objects.create(pack_id="ab" * 16, device=device, owner=alice, size=4, indexed_at=old, created_at=old,
                               key_set=user_key_set(alice))
    Chunk.objects.create(id="ef" * 32, pack=pack, owner=alice, offset=0, length=4, raw_length=4,
                         kind=ChunkKind.DATA)
    import io
    get_store().put(pack_key(pack.pack_id), io.BytesIO(b"data"))
    hold("user", alice)
    report = gc.gc_collect()
    assert report["swept"] == 0 and report["repacked"] == 0
    assert Pack.objects.filter(pk=pack.pk).exists() and get_store().exists(pack_key(pack.pack_id))


# --- Accounts and spaces -------------------------------------------------------------------------------------------

def test_user_disable_keeps_a_held_users_data_and_deletion_is_refused(admin, alice, put, device, hold):
    version = put("/mine.txt")
    hold("user", alice)
    accounts.user_disable(actor=admin, user_id=alice.pk)   # disabling is access, not data: allowed
    assert FileVersion.objects.filter(pk=version.pk).exists() and device.__class__.objects.filter(pk=device.pk).exists()
    with pytest.raises(UnderLegalHold), transaction.atomic():
        alice.delete()
    assert alice.__class__.objects.filter(pk=alice.pk).exists()


def test_space_deletion_is_refused_under_a_hold_or_retention(put, hold, retain, team, admin):
    version = put("/a.txt")
    held = hold("space", team)
    with pytest.raises(UnderLegalHold), transaction.atomic():
        Space.objects.get(pk=team.pk).delete()
    from portal.governance.services import hold_release
    hold_release(actor=admin, hold_id=held.pk, reason="case closed")
    retain(30)
    with pytest.raises(UnderRetention), transaction.atomic():
        Space.objects.get(pk=team.pk).delete()
    assert FileVersion.objects.filter(pk=version.pk).exists()


# --- Tiering: a held blob stays where it is -------------------------------------------------------------------------

def test_a_held_blob_never_changes_tier(alice, put, hold, settings, tmp_path):
    from tests.lifecycle.conftest import configure_tiers

    settings.TIER_CURRENT_DAYS, settings.TIER_OLD_DAYS, settings.TIER_TRASH_DAYS = 1, 1, 1
    configure_tiers(settings, {"cold": {"class": "cold", "backend": "local", "root": str(tmp_path / "cold")}})
    held, free = put("/held.bin", b"held bytes"), put("/free.bin", b"free bytes")
    for version in (held, free):
        maintenance.blob_hash(version.blob_id)
    Blob.objects.filter(pk__in=[held.blob_id, free.blob_id]).update(created_at=timezone.now() - timedelta(days=5))
    hold("folder", held.node)
    due, _ = policies.candidates(now=timezone.now())
    assert [c.blob.pk for c in due] == [free.blob_id]


def test_a_folder_carrying_its_own_policy_or_hold_moves_with_it_and_stays_protected(signed_in, alice, put, hold,
                                                                                     retain, team):
    for path in ("/Kept", "/Held", "/Archive"):
        tree.folder_create(actor=alice, space_id=team.pk, path=path)
    kept, held = (Node.objects.get(space=team, name=name) for name in ("Kept", "Held"))
    retained, frozen = put("/Kept/a.txt"), put("/Held/b.txt")
    retain(90, folder=kept)
    hold("folder", held)
    other = space_create(actor=alice, name="Other")
    client = signed_in(alice)
    for folder, target in ((kept, {"path": "/Kept", "space": other.pk}), (held, {"path": "/Archive/Held"})):
        moved = client.post(f"/api/v1/files/{folder.pk}/move", target, format="json")
        assert moved.status_code == 200, moved.content
    for version, code in ((retained, "under_retention"), (frozen, "legal_hold")):
        node = trash(alice, version.node)
        assert_error(client.delete(f"/api/v1/trash/{node.pk}"), 409, code)


def test_the_trash_page_refuses_to_purge_a_retained_file_in_place(alice, put, retain, team):
    from django.urls import reverse

    from tests.adminpanel.console_support import client_for

    version = put("/board-minutes.txt")
    retain(3650)
    node = trash(alice, version.node)
    response = client_for(alice).post(reverse("web:trash-action", args=[team.pk, node.pk, "purge"]),
                                      HTTP_HX_REQUEST="true")
    assert response.status_code == 409 and b"under_retention" in response.content
    assert "board-minutes.txt" in response.content.decode()
    assert FileVersion.objects.filter(pk=version.pk).exists()
