# SPDX-License-Identifier: MIT
# Old name of tests/lib.sh for the shim scripts that still source it: new scripts source
# tests/lib.sh and call need_preload and need_built "$SHIM" themselves.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
