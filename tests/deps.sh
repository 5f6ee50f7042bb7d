#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian packages memshim needs that are missing. `apt-get update` runs once,
# and only when a package cannot be installed from the lists already present.
# usage: BUILD_PKGS="..." TEST_PKGS="..." sh tests/deps.sh build|test
set -u
want="$BUILD_PKGS"
[ "${1:-build}" = test ] && want="$BUILD_PKGS $TEST_PKGS"
missing=""
for p in $want; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    case "$st" in *"ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
    command -v sudo >/dev/null 2>&1 || { echo "deps: missing packages:$missing (run as root to install them)" >&2; exit 1; }
else
    SUDO=
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends $missing; then
    $SUDO apt-get update -qq || exit 1
    $SUDO apt-get install -y --no-install-recommends $missing || exit 1
fi
# Debian starts the packaged redis-server as a service; tests start their own instances.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
exit 0
