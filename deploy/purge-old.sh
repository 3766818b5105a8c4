#!/usr/bin/env bash
# Elastic Beanstalk: run `flask purge-old` with the environment's properties.
# Meant for cron on one instance, e.g. /etc/cron.d/survey-purge-old:
#   15 3 * * * webapp /var/app/current/deploy/purge-old.sh
set -euo pipefail
cd /var/app/current
python=$(ls -d /var/app/venv/*/bin/python | head -n 1)
exports=$("$python" - <<'PY'
import json
import shlex
import subprocess

found = subprocess.check_output(["/opt/elasticbeanstalk/bin/get-config", "environment"])
for name, value in json.loads(found).items():
    print(f"export {name}={shlex.quote(value)}")
PY
)
eval "$exports"
exec "$python" -m flask --app application purge-old
