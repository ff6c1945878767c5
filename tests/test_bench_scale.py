"""bench/scale.py at a tiny scale, so the script cannot rot: it makes its own
database, fills it, times every case through the real code paths, flags a
planted Seq Scan in its EXPLAIN check (failing the run), and drops the database."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CASES = {"path 20 folders deep", "listing 10,000 entries, first page", "listing 10,000 entries, last page",
         "move a folder of", "permission: file under a group's internal share",
         "permission: file in a space granted to a group", "permission: refused", "search", "admin audit list",
         "admin audit export"}


def _databases() -> set[str]:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'coffer_scale_%'")}


def test_scale_bench_reports_every_case_and_fails_on_a_seq_scan(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")}
    before = _databases()
    report_path = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "bench/scale.py", "--spaces", "2", "--nodes", "20000", "--events", "10000", "--runs", "3",
         "--seq-scan-rows", "5000", "--plant-seq-scan", "--json", str(report_path)],
        check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr[-3000:]  # the planted scan fails the run, after the report
    report = json.loads(report_path.read_text())

    assert report["nodes"] > 15000 and report["events"] == 10000 and report["database_bytes"] > 0
    labels = [case["case"] for case in report["cases"]]
    for expected in CASES:
        assert any(label.startswith(expected) for label in labels), (expected, labels)
    for case in report["cases"]:
        assert case["queries"] > 0, case
        assert 0 < case["p50_ms"] <= case["p95_ms"], case
    planted = [scan for scan in report["seq_scans"] if scan["case"] == "planted"]
    assert planted and planted[0]["table"] == "files_node" and planted[0]["rows"] > 5000
    assert "Seq Scan on a table over 5,000 rows" in done.stdout and "SEQ SCAN files_node" in done.stdout
    assert "FAILED: " in done.stdout
    assert report["database"] not in _databases() | before  # dropped at the end


def _scale(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")}
    return subprocess.run([sys.executable, "bench/scale.py", *args], check=False, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_a_kept_database_is_measured_again_without_generating(tmp_path):
    before = _databases()
    first, again = tmp_path / "first.json", tmp_path / "again.json"
    kept = _scale("--spaces", "2", "--nodes", "20000", "--events", "5000", "--runs", "2", "--skip", "admin", "--keep",
                  "--json", str(first))
    name = json.loads(first.read_text())["database"] if first.exists() else None
    try:
        assert kept.returncode == 0, kept.stderr[-3000:]
        assert name in _databases() - before and f"--reuse {name}" in kept.stderr + kept.stdout
        reused = _scale("--reuse", name, "--runs", "2", "--skip", "admin", "--json", str(again))
        assert reused.returncode == 0, reused.stderr[-3000:]
        first_report, again_report = json.loads(first.read_text()), json.loads(again.read_text())
        assert (again_report["nodes"], again_report["events"], again_report["spaces"]) == (
            first_report["nodes"], 5000, 2)
        assert [c["case"] for c in again_report["cases"]] == [c["case"] for c in first_report["cases"]]
        assert "audit events in" in kept.stderr and "audit events in" not in reused.stderr  # not generated again
        assert name in _databases()  # a reused database is kept
    finally:
        if name:
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_reuse_refuses_a_database_scale_did_not_make():
    refused = _scale("--reuse", "test")
    assert refused.returncode == 2
    assert "--reuse test: not a database of scale.py" in refused.stderr
