"""SCIM 2.0 provisioning (RFC 7643/7644): Okta and Microsoft Entra push users
and groups to ``/scim/v2/`` with a bearer token an administrator created.

Plain Django views rather than django-scim2 (which keys users by fields it
adds to the user model, a model this package does not own) or DRF (whose
authentication, content negotiation and error shape would all need replacing
with SCIM's); filters are parsed by ``scim2-filter-parser``.
"""
