"""gunicorn reads this file from the folder it starts in (the checkout: the
Procfile's web process and deploy/systemd/coffer-web.service start there);
``-c`` names it from elsewhere. The command line still wins over it."""

import os
from pathlib import Path

# Each instance's control socket (gunicornc) in its own state folder: two
# portals on one host would otherwise share ~/.gunicorn/gunicorn.ctl, each
# taking it from the other.
_VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR") or Path(__file__).resolve().parent / "var").resolve()
control_socket = str(_VAR_DIR / "gunicorn.ctl")

# Tokens out of the logs, and Coffer's one line format (portal/gunicorn_log.py).
logger_class = "portal.gunicorn_log.RedactingLogger"
# The line's own timestamp comes first (the formatter's), so the access line leaves out %(t)s.
access_log_format = '%(h)s %(l)s %(u)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
