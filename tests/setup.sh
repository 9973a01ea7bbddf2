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

# fdm 2.x, the dialect the article's users run (no Debian package has it): built once from the vendored
# upstream source into a cache outside the checkout, rebuilt only when the tarball changes. The
# differential test finds it at $fdm2_dir/fdm. Under CI a missing tarball is an error, not a skip.
fdm2_tarball=${MAILCONSOLE_FDM_TARBALL:-../shared/vendor/fdm-upstream.tar.gz}
fdm2_dir=${MAILCONSOLE_FDM2_DIR:-/var/cache/mailconsole/fdm-2.x}
if [ -f "$fdm2_tarball" ]; then
    fdm2_sum=$(sha256sum "$fdm2_tarball" | cut -d' ' -f1)
    if [ ! -x "$fdm2_dir/fdm" ] || [ "$(cat "$fdm2_dir/source.sha256" 2>/dev/null)" != "$fdm2_sum" ]; then
        echo "setup: building fdm 2.x from $fdm2_tarball into $fdm2_dir (about a minute)"
        build=$(mktemp -d)
        tar xzf "$fdm2_tarball" -C "$build"
        (cd "$build/fdm" && sh autogen.sh && ./configure --enable-pcre2 && make -j2) \
            >"$build/build.log" 2>&1 || { tail -20 "$build/build.log" >&2; echo "setup: the fdm 2.x build failed" >&2; exit 1; }
        mkdir -p "$fdm2_dir"
        install -m 0755 "$build/fdm/fdm" "$fdm2_dir/fdm"
        echo "$fdm2_sum" >"$fdm2_dir/source.sha256"
        rm -rf "$build"
    fi
    # Run as root, fdm 2.x refuses to start without this user.
    id _fdm >/dev/null 2>&1 || useradd -r -s /usr/sbin/nologin _fdm
elif [ -n "${CI:-}" ]; then
    echo "setup: $fdm2_tarball is missing: CI must build fdm 2.x for the differential test" >&2
    exit 1
else
    echo "setup: $fdm2_tarball not found: fdm 2.x is not built (its differential test will skip)" >&2
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
