#!/bin/sh
# manage.py as the services see it: the settings of their EnvironmentFile (COFFER_ENV, default
# /etc/coffer/coffer.env), from the checkout this script lives in. Run it as the coffer user:
#   runuser -u coffer -- /opt/coffer/deploy/manage.sh migrate
set -eu
set -a
. "${COFFER_ENV:-/etc/coffer/coffer.env}"
set +a
cd "$(dirname "$0")/.."
exec .venv/bin/python manage.py "$@"
