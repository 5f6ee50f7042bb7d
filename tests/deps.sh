#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian packages memshim needs that are missing, and changes nothing else.
# `apt-get update` runs once, and only when a package cannot be installed from the lists
# already present.
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
# Nothing else on the host is changed: a redis-server service that Debian starts with its
# package is left alone (the tests start their own servers on free ports).
exit 0
