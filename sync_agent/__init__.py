"""Coffer's desktop backup agent. Talks to the portal only over HTTP (client.py);
never imports Django. Protocol: docs/backup-protocol.md."""

__version__ = "1.0"
