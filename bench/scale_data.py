"""The deployment ``scale.py`` measures, made with PostgreSQL-side bulk SQL
(INSERT ... SELECT generate_series), never the ORM row by row.

Layout (ids are chosen here so parents are arithmetic, not looked up):
space 1 ("Big") holds /Projects with nodes/10 files in nodes/1000 folders,
/Listing with 10,000 entries, /Archive with nodes/100 descendants (the folder
moved), /Deep/L01/.../L20 with a file at the bottom; the other spaces share
the remaining nodes as folders of 100 files. Every file has one version and
one blob (ids equal to the node's). Groups, space grants and internal shares
give the reader its access; audit events are sealed-looking rows (seq,
prev_hash, chain_hash filled), since the bench reads them.
"""

from __future__ import annotations

import json
import time

FILES_PER_FOLDER = 100
DEPTH = 20
LISTING = 10_000
GROUPS = 50
READER_GROUPS = 10
ACTIONS = ["file.downloaded", "file.uploaded", "share.viewed", "auth.login", "file.renamed", "lock.acquired"]


class Ids:
    """The next free node id, handed out in blocks."""

    def __init__(self, start: int):
        self.next = start

    def take(self, count: int) -> int:
        first, self.next = self.next, self.next + count
        return first


def _nodes(cur, ids: Ids, *, space: int | str, parent: str, kind: str, name: str, count: int, owner: int) -> int:
    """``count`` nodes; ``parent`` and ``name`` are SQL in ``g`` (0-based); returns the first id."""
    first = ids.take(count)
    size = "0" if kind == "folder" else "1000 + g % 5000000"
    version = "NULL" if kind == "folder" else f"{first} + g"
    cur.execute(
        f"INSERT INTO files_node (id, kind, name, name_key, size, created_at, modified_at, space_id, parent_id, "
        f"created_by_id, current_version_id) SELECT {first} + g, '{kind}', n, lower(n), {size}, "
        f"now() - (g % 1000) * interval '1 hour', now() - (g % 1000) * interval '1 hour', {space}, {parent}, "
        f"{owner}, {version} FROM generate_series(0, {count - 1}) g, LATERAL (SELECT {name} AS n) names")
    return first


def _users(cur, count: int) -> None:
    cur.execute(
        "INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff, "
        "is_active, date_joined, time_zone, display_name, language) SELECT '!', false, 'user' || lpad(g::text, 5, '0'), "
        "'', '', 'user' || g || '@example.com', false, true, now(), 'UTC', 'User ' || g, 'en' "
        f"FROM generate_series(1, {count}) g")


def _spaces(cur, count: int, owner: int) -> int:
    cur.execute(
        "INSERT INTO spaces_space (name, kind, quota_bytes, used_bytes, created_at, created_by_id, slug) "
        f"SELECT 'Space ' || g, 'team', 1000000000000000, 0, now(), {owner}, 'scale-space-' || g "
        f"FROM generate_series(1, {count}) g RETURNING id")
    space_ids = [row[0] for row in cur.fetchall()]
    cur.execute("INSERT INTO spaces_membership (role, created_at, user_id, space_id) "
                f"SELECT 'owner', now(), {owner}, id FROM spaces_space WHERE id = ANY(%s)", [space_ids])
    return space_ids[0]


def _files(cur, ids: Ids, *, space: int, parent: int | str, folders: int, files_each: int, owner: int,
           prefix: str) -> None:
    first = _nodes(cur, ids, space=space, parent=str(parent), kind="folder",
                   name=f"'{prefix} ' || lpad(g::text, 6, '0')", count=folders, owner=owner)
    _nodes(cur, ids, space=space, parent=f"{first} + g / {files_each}", kind="file",
           name=f"'Report ' || lpad((g % {files_each})::text, 5, '0') || ' ' || (g / {files_each}) || '.pdf'",
           count=folders * files_each, owner=owner)


def _big_space(cur, ids: Ids, space: int, root: int, nodes: int, owner: int) -> dict:
    made = {}
    top = _nodes(cur, ids, space=space, parent=str(root), kind="folder",
                 name="(ARRAY['Projects', 'Listing', 'Archive', 'Deep'])[g + 1]", count=4, owner=owner)
    made.update(projects=top, listing=top + 1, archive=top + 2, deep=top + 3)
    _files(cur, ids, space=space, parent=top, folders=max(1, nodes // 1000), files_each=FILES_PER_FOLDER,
           owner=owner, prefix="Team")
    _nodes(cur, ids, space=space, parent=str(top + 1), kind="file", name="'Entry ' || lpad(g::text, 5, '0') || '.txt'",
           count=LISTING, owner=owner)
    boxes = max(1, nodes // 100 // FILES_PER_FOLDER)
    _files(cur, ids, space=space, parent=top + 2, folders=boxes, files_each=FILES_PER_FOLDER - 1, owner=owner,
           prefix="Box")
    made["archive_descendants"] = boxes * FILES_PER_FOLDER
    chain = _nodes(cur, ids, space=space, parent=f"CASE WHEN g = 0 THEN {top + 3} ELSE {ids.next} + g - 1 END",
                   kind="folder", name="'L' || lpad((g + 1)::text, 2, '0')", count=DEPTH, owner=owner)
    made["deep_file"] = _nodes(cur, ids, space=space, parent=str(chain + DEPTH - 1), kind="file",
                               name="'bottom.txt'", count=1, owner=owner)
    made["deep_path"] = "Deep/" + "/".join(f"L{i:02d}" for i in range(1, DEPTH + 1)) + "/bottom.txt"
    made["shared_folder"] = chain + 9  # /Deep/L01/.../L10, shared with a group
    return made


def _rest(cur, ids: Ids, spaces: list[int], roots: dict[int, int], remaining: int, owner: int) -> None:
    per_space = remaining // max(1, len(spaces))
    folders = per_space // (FILES_PER_FOLDER + 1)
    for space in spaces:
        if folders:
            _files(cur, ids, space=space, parent=roots[space], folders=folders, files_each=FILES_PER_FOLDER,
                   owner=owner, prefix="Folder")


def _versions(cur) -> None:
    cur.execute("INSERT INTO files_blob (id, key, size, sha256, expected_sha256, integrity, created_at, tier, tier_key) "
                "SELECT id, 'blobs/scale/' || id, size, md5(id::text) || md5((-id)::text), "
                "md5(id::text) || md5((-id)::text), 'verified', created_at, 'hot', '' FROM files_node WHERE kind = 'file'")
    cur.execute("INSERT INTO files_fileversion (id, number, size, created_at, blob_id, created_by_id, node_id) "
                "SELECT id, 1, size, created_at, id, created_by_id, id FROM files_node WHERE kind = 'file'")


def _search_docs(cur, space: int) -> None:
    cur.execute("INSERT INTO search_doc (node_id, file_type, name, name_key, kind, size, modified_at, parent_path, "
                "trashed, name_words, path_words, body_words, indexed_at, owner_id, space_id) "
                "SELECT id, CASE WHEN kind = 'file' THEN 'pdf' ELSE '' END, name, name_key, kind, size, modified_at, "
                "'/Projects', false, regexp_replace(name_key, '[^a-z0-9]+', ' ', 'g'), 'projects', '', now(), "
                f"created_by_id, space_id FROM files_node WHERE space_id = {space} AND parent_id IS NOT NULL")


def _access(cur, *, big_space: int, other_space: int, reader: int, owner: int, shared_folder: int) -> None:
    cur.execute("INSERT INTO people_group (name, source, external_id, created_at) "
                f"SELECT 'Group ' || g, 'local', '', now() FROM generate_series(1, {GROUPS}) g RETURNING id")
    groups = [row[0] for row in cur.fetchall()]
    cur.execute("INSERT INTO people_groupmember (added_at, group_id, user_id) "
                "SELECT now(), gr.id, u.id FROM unnest(%s::bigint[]) gr(id), "
                "(SELECT id FROM accounts_user WHERE username LIKE 'user%%' ORDER BY id LIMIT 20) u",
                [groups])
    cur.execute("INSERT INTO people_groupmember (added_at, group_id, user_id) SELECT now(), g, %s "
                "FROM unnest(%s::bigint[]) g", [reader, groups[:READER_GROUPS]])
    cur.execute("INSERT INTO spaces_spacegroup (role, created_at, group_id, space_id) VALUES ('viewer', now(), %s, %s)",
                [groups[READER_GROUPS - 1], other_space])
    cur.execute("INSERT INTO shares_internalshare (role, created_at, created_by_id, group_id, node_id, space_id) "
                "VALUES ('viewer', now(), %s, %s, %s, %s)", [owner, groups[0], shared_folder, big_space])


def _events(cur, count: int, nodes: int, spaces: int, batch: int = 5_000_000) -> None:
    actions = "ARRAY[" + ", ".join(f"'{a}'" for a in ACTIONS) + "]"
    cur.execute("SELECT coalesce(max(id), 0), coalesce(max(seq), 0) FROM audit_auditevent")
    base = max(cur.fetchone())  # the events the setup itself wrote come first
    for start in range(1, count + 1, batch):
        end = min(count, start + batch - 1)
        cur.execute(
            "INSERT INTO audit_auditevent (id, created_at, actor_label, action, outcome, target_type, target_id, "
            "target_label, ip, user_agent, details, chain_hash, prev_hash, actor_id, space_id, sealed_at, seq) "
            f"SELECT {base} + g, timestamptz '2025-01-01' + g * interval '250 ms', 'user' || lpad((g % 500)::text, 5, '0'), "
            f"({actions})[g % {len(ACTIONS)} + 1], 'success', 'node', (g % {nodes} + 1)::text, "
            "'/Projects/Team ' || (g % 10000) || '/Report ' || (g % 100) || '.pdf', "
            "('10.' || (g % 250) || '.' || (g / 250 % 250) || '.' || (g % 199 + 1))::inet, "
            "'coffer-agent/1.4.2 (linux; x86_64)', jsonb_build_object('size', g % 1000000, 'version', g % 17 + 1), "
            "md5(g::text) || md5((g + 1)::text), md5((g - 1)::text) || md5(g::text), NULL, "
            f"g % {spaces} + 1, now(), {base} + g FROM generate_series({start}, {end}) g")


def generate(conn, *, spaces: int, nodes: int, events: int, owner: int, reader: int, log) -> dict:
    """Fill the database; returns the ids the measurements need and each step's seconds."""
    timings, t0 = {}, time.monotonic()
    with conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # no FK triggers while bulk loading
        _users(cur, 200)
        first_space = _spaces(cur, spaces, owner)
        space_ids = list(range(first_space, first_space + spaces))
        cur.execute("SELECT coalesce(max(id), 0) FROM files_node")
        ids = Ids(cur.fetchone()[0] + 1)
        root_first = _nodes(cur, ids, space=f"{first_space} + g", parent="NULL", kind="folder", name="''",
                            count=spaces, owner=owner)
        roots = {space: root_first + i for i, space in enumerate(space_ids)}
        made = _big_space(cur, ids, first_space, roots[first_space], nodes, owner)
        _rest(cur, ids, space_ids[1:], roots, nodes - (ids.next - root_first), owner)
        timings["nodes"] = time.monotonic() - t0
        log(f"{ids.next - root_first:,} nodes in {timings['nodes']:.1f} s")
        t1 = time.monotonic()
        _versions(cur)
        _search_docs(cur, first_space)
        _access(cur, big_space=first_space, other_space=space_ids[-1], reader=reader, owner=owner,
                shared_folder=made["shared_folder"])
        timings["versions, search, access"] = time.monotonic() - t1
        log(f"versions, blobs, search docs, groups and shares in {timings['versions, search, access']:.1f} s")
        t1 = time.monotonic()
        _events(cur, events, nodes, spaces)
        timings["events"] = time.monotonic() - t1
        log(f"{events:,} audit events in {timings['events']:.1f} s")
        for table in ("files_node", "files_blob", "files_fileversion", "audit_auditevent", "accounts_user"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        cur.execute("SET session_replication_role = origin")
        t1 = time.monotonic()
        cur.execute("VACUUM ANALYZE")
        timings["vacuum analyze"] = time.monotonic() - t1
    made.update(space=first_space, other_space=space_ids[-1], nodes=ids.next - root_first)
    made["other_file"] = _first_file(conn, space_ids[-1])
    generated = {"ids": made, "timings": timings, "spaces": spaces, "events": events}
    with conn.cursor() as cur:  # what ``scale.py --reuse`` measures again without generating
        cur.execute("CREATE TABLE bench_scale_generated (report jsonb NOT NULL)")
        cur.execute("INSERT INTO bench_scale_generated VALUES (%s)", [json.dumps(generated)])
    return generated


def generated(conn) -> dict:
    """The ids and timings of the generation a kept database holds."""
    with conn.cursor() as cur:
        cur.execute("SELECT report FROM bench_scale_generated")
        report = cur.fetchone()[0]
    return json.loads(report) if isinstance(report, str) else report


def _first_file(conn, space: int) -> int | None:
    with conn.cursor() as cur:
        cur.execute("SELECT min(id) FROM files_node WHERE space_id = %s AND kind = 'file'", [space])
        return cur.fetchone()[0]
