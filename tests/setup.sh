#!/usr/bin/env bash
# Install everything mailconsole's lab and test suite need on a fresh Debian 12 machine (as root):
# the Debian packages of the mail stack (tests/debian-packages.txt) and a virtualenv in .venv with
# mailconsole and its test dependencies. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=$(grep -v '^#' tests/debian-packages.txt | xargs)
missing=()
for pkg in $packages; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: the lab needs Debian packages: run as root, or: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    if ! "$python" -m venv .venv >/dev/null 2>&1; then
        rm -rf .venv
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null
        "$python" -m venv .venv
    fi
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
# Bytecode now, as an installed package has it: with PYTHONDONTWRITEBYTECODE set (as on these machines)
# every start would compile the console again.
.venv/bin/python -m compileall -q console widgets
