"""The co-editing websocket server: an ASGI application (served by uvicorn,
``python -m portal.collab.server``) speaking the y-websocket protocol.

One room per open session in each server process; every update a client
sends is stored (portal.collab.services.updates_append) before the room
applies it and relays it, then published on Redis so the other server
processes' rooms apply it too. Everything that touches the database runs in
worker threads (``db.call``); the event loop only moves bytes.
"""
