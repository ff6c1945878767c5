"""Writes to backups, one module per concern: devices (enrollment, rename,
revoke, reports), packs (the index), snapshots, retention, gc, verify and
restore (server-side browsing and downloads)."""
