"""The files cache, excludes and tree objects, without a portal."""

import os
import threading

import pytest

from sync_agent import crypto, tree
from sync_agent.scanner import Excluder, Scanner
from sync_agent.state import Journal, State, pack_ids

KEYS = crypto.Keys(bytes(32), bytes(range(32)))


class Recorder:
    """Stands in for the read pipeline: records which files it is asked to read
    and writes their rows as the pipeline would."""

    def __init__(self, state):
        self.state, self.asked = state, []

    def __call__(self, directory, entry, before):
        self.asked.append(os.path.join(directory, entry.name))
        self.state.put_entries(directory, [entry._replace(chunks=pack_ids(["ab" * 32]))])


@pytest.fixture
def state(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    s = State(home)
    yield s
    s.close()


def scan(state, folder, excludes=(), **kwargs):
    recorder = Recorder(state)
    scanner = Scanner(state, recorder, threading.Event())
    scanner.scan(str(folder), Excluder(str(folder), list(excludes)), **kwargs)
    return recorder.asked, scanner


def make_tree(root):
    (root / "docs" / "deep").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("a")
    (root / "docs" / "deep" / "b.txt").write_text("b")
    (root / "empty").mkdir()
    (root / "top.bin").write_bytes(b"\0" * 10)
    os.symlink("docs/a.txt", root / "link")


def test_an_unchanged_file_is_never_read_again(state, tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    make_tree(root)
    first, _ = scan(state, root)
    assert sorted(os.path.basename(p) for p in first) == ["a.txt", "b.txt", "top.bin"]
    again, _ = scan(state, root)
    assert again == []
    (root / "docs" / "a.txt").write_text("changed")
    third, _ = scan(state, root)
    assert third == [str(root / "docs" / "a.txt")]


def test_deleted_files_and_folders_leave_the_cache(state, tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    make_tree(root)
    scan(state, root)
    (root / "docs" / "deep" / "b.txt").unlink()
    (root / "docs" / "deep").rmdir()
    scan(state, root)
    assert "deep" not in state.entries_in(str(root / "docs"))
    assert state.entries_in(str(root / "docs" / "deep")) == {}


def test_default_and_custom_excludes_are_gitignore_patterns(tmp_path):
    root = str(tmp_path)
    ex = Excluder(root, ["*.log", "build/", "/only-top.txt"])
    for path, is_dir in [("~$report.docx", False), (".~lock.report.odt#", False), ("x.tmp", False),
                         ("Thumbs.db", False), ("a/.DS_Store", False), ("a/.cache", True),
                         ("pkg/__pycache__", True), ("web/node_modules/.cache", True), ("app.log", False),
                         ("a/build", True), ("only-top.txt", False)]:
        assert ex.excluded(os.path.join(root, path), is_dir), path
    for path, is_dir in [("report.docx", False), ("web/node_modules", True), ("build", False),
                         ("sub/only-top.txt", False), ("cache", True)]:
        assert not ex.excluded(os.path.join(root, path), is_dir), path
    assert ex.excluded_anywhere(os.path.join(root, "a", "build", "x", "y.txt"), False)


def test_excluded_entries_are_not_scanned(state, tmp_path):
    root = tmp_path / "src"
    (root / "__pycache__").mkdir(parents=True)
    (root / "__pycache__" / "m.pyc").write_bytes(b"x")
    (root / "keep.txt").write_text("k")
    (root / "skip.log").write_text("s")
    asked, _ = scan(state, root, ["*.log"])
    assert asked == [str(root / "keep.txt")]


def build(state, folder):
    emitted = {}
    builder = tree.TreeBuilder(state, KEYS, lambda tid, data: emitted.setdefault(tid, data))
    return builder.root([str(folder)]), emitted


def test_tree_ids_are_stable_and_reused_when_nothing_changed(state, tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    make_tree(root)
    scan(state, root)
    (first, totals), emitted = build(state, root)
    assert (totals.files, totals.bytes) == (3, 12)
    assert len(emitted) >= 4
    scan(state, root)
    (second, _), emitted_again = build(state, root)
    assert second == first
    folder_tree = state.tree_get(str(root))[0]
    assert folder_tree not in emitted_again  # came from the tree cache, not rebuilt
    state.trees_invalidate([str(root), str(root / "docs"), str(root / "docs" / "deep")])
    (third, _), _ = build(state, root)
    assert third == first  # rebuilt from the same rows: same bytes, same id


def test_a_change_deep_down_changes_only_the_trees_above_it(state, tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    make_tree(root)
    (root / "other").mkdir()
    (root / "other" / "c.txt").write_text("c")
    scan(state, root)
    build(state, root)
    other = state.tree_get(str(root / "other"))[0]
    deep = state.tree_get(str(root / "docs" / "deep"))[0]
    (root / "docs" / "deep" / "b.txt").write_text("bb")
    scan(state, root)
    build(state, root)
    assert state.tree_get(str(root / "other"))[0] == other
    assert state.tree_get(str(root / "docs" / "deep"))[0] != deep


def test_a_tree_object_is_canonical_json_sorted_by_name():
    entries = [{"name": "b", "type": "symlink", "mode": 0o777, "mtime_ns": 5, "target": "x"},
               {"name": "a", "type": "file", "mode": 0o644, "mtime_ns": 6, "size": 1, "chunks": ["00" * 32]}]
    data = tree.encode(entries)
    assert data.startswith(b'{"entries":[{"chunks":')
    assert b" " not in data
    assert [e["name"] for e in tree.decode(data)] == ["a", "b"]
    assert tree.encode(list(reversed(entries))) == data


def test_the_dirty_set_survives_and_clears_only_what_was_taken(tmp_path):
    journal = Journal(tmp_path)
    journal.mark_dirty([("/a", False), ("/b", True)])
    dirty, mark = journal.dirty()
    assert sorted(dirty) == [("/a", False), ("/b", True)]
    journal.mark_dirty([("/c", False)])
    journal.clear_dirty(mark)
    assert journal.dirty()[0] == [("/c", False)]
    journal.close()
    assert Journal(tmp_path).dirty()[0] == [("/c", False)]


def test_a_file_that_vanished_before_it_was_read_is_skipped_with_a_warning(state, tmp_path):
    from sync_agent.backup import Pipeline
    from sync_agent.progress import Progress
    from sync_agent.state import Entry

    pipeline = Pipeline(KEYS, state, packer=None, progress=Progress(enabled=False), stop=threading.Event())
    try:
        result = pipeline._read_file(str(tmp_path), Entry("gone.txt", "file", 0o644, 1, 1, 10, 1))
    finally:
        pipeline.close()
    assert result.entry is None and result.forget and "deleted" in result.problem


def test_a_small_file_is_read_hashed_and_sealed_in_the_reader_thread(state, tmp_path):
    from sync_agent.backup import Pipeline
    from sync_agent.progress import Progress
    from sync_agent.state import Entry, unpack_ids

    class Packer:
        added = []

        def add(self, cid, blob, raw, kind):
            self.added.append((cid, crypto.unseal(KEYS, cid, blob), kind))

    (tmp_path / "f.txt").write_bytes(b"content")
    packer = Packer()
    pipeline = Pipeline(KEYS, state, packer=packer, progress=Progress(enabled=False), stop=threading.Event())
    try:
        result = pipeline._read_file(str(tmp_path), Entry("f.txt", "file", 0o644, 1, 1, 7, 1))
    finally:
        pipeline.close()
    cid = crypto.chunk_id(KEYS, b"content")
    assert unpack_ids(result.entry.chunks) == [cid]
    assert packer.added == [(cid, b"content", "data")]


def test_the_fast_tree_encoding_is_byte_for_byte_the_canonical_json():
    import json
    import random

    from sync_agent.state import Entry

    rng = random.Random(1)
    names = ["a", "ü név", 'quo"te', "back\\slash", "tab\tx", "\x01ctl", "emoji😀", "日本", "line\nbreak", "\u2028"]
    for i in range(500):
        kind = rng.choice(["file", "dir", "symlink"])
        chunks = pack_ids([rng.randbytes(32).hex() for _ in range(rng.randint(0, 3))]) if kind == "file" else None
        e = Entry(rng.choice(names) + str(i), kind, rng.randint(0, 0o7777), rng.randint(0, 2**62), 0,
                  rng.randint(0, 2**40), 0, chunks, rng.choice(names) if kind == "symlink" else None)
        sub = "ab" * 32 if kind == "dir" else None
        canonical = json.dumps(tree.entry_dict(e, sub), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        assert tree.entry_json(e, sub) == canonical
