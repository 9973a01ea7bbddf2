#!/usr/bin/env bash
# The whole test suite: installs what it needs (tests/setup.sh), then unit, pilot and lab integration
# tests. Extra arguments go to pytest (e.g. `bash tests/run.sh tests/unit -x`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "${@:-tests}"
