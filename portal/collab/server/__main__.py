"""``python -m portal.collab.server [--bind HOST:PORT] [--workers N]``: the
co-editing websocket server (uvicorn). Several workers need Redis
(``PORTAL_REDIS_URL``) to share documents; without it one worker runs."""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.conf import settings
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m portal.collab.server", description=__doc__)
    parser.add_argument("--bind", default=settings.COEDIT_BIND, help="HOST:PORT (default: PORTAL_COEDIT_BIND)")
    parser.add_argument("--workers", type=int, default=1)
    options = parser.parse_args(argv)
    host, _, port = options.bind.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--bind must be HOST:PORT, not {options.bind!r}")
    workers = options.workers if settings.REDIS_URL else 1
    if workers != options.workers:
        print("co-editing: without PORTAL_REDIS_URL the server runs one worker", file=sys.stderr)
    uvicorn.run("portal.collab.server.asgi:application", host=host.strip("[]"), port=int(port), workers=workers,
                ws="websockets-sansio", ws_max_size=max(settings.COEDIT_MAX_BYTES * 2, 1 << 20), ws_ping_interval=20,
                lifespan="on", proxy_headers=False, server_header=False, log_level="info",
                log_config=settings.LOGGING,  # the portal's line format, not uvicorn's own
                access_log=False)  # the URL carries the ticket: never in a log
    return 0


if __name__ == "__main__":
    sys.exit(main())
