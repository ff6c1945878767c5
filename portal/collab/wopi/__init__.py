"""Coffer as a WOPI host: office documents edited in Collabora Online or OnlyOffice Docs (docs/wopi.md)."""
