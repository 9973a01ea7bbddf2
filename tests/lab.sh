#!/usr/bin/env bash
# Bring up the lab (a real miniature mail stack under supervisord) and open the console on it.
# Installs what it needs first (tests/setup.sh). Extra arguments go to `mailconsole lab up`
# (e.g. --filters for clamd, clamsmtpd and spampd). `mailconsole lab down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh
dir=/tmp/mailconsole-lab
if ! .venv/bin/mailconsole lab status --dir "$dir" >/dev/null 2>&1; then
    .venv/bin/mailconsole lab up --dir "$dir" "$@"
fi
exec .venv/bin/mailconsole --config "$dir/mailconsole.toml"
