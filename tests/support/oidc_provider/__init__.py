"""A real OpenID Connect provider for the single sign-on tests.

A small Django project on django-oauth-toolkit's OIDC support, run as its own
process (``python -m tests.support.oidc_provider DIR``) with its own SQLite
database and an RSA signing key generated at start, in ``DIR``. It prints
``READY <port>`` once it serves on a free 127.0.0.1 port. ``fixture.py``
starts and stops it for a test session. Never imports Coffer.
"""
