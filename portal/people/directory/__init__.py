"""LDAP and Active Directory: sign-in (``backend``) and the scheduled full
sync (``sync``), both on when PORTAL_LDAP_URI is set (docs/ldap.md).

- ``config``: the settings, with each directory kind's defaults, and the
  connection (bound with the service account).
- ``reader``: one read of the whole directory (paged searches): people and
  groups, nested memberships flattened.
- ``backend``: django-auth-ldap's backend, matching accounts by
  ExternalIdentity(source="ldap") and mirroring the user's groups.
- ``services``: the writes, all audited: a signed-in user brought up to
  date, and the full sync (bulk writes, one summary event).
"""
