# shellcheck shell=bash
# What every end-to-end test file starts with: strict-ish mode, where things are, the lab and
# the assertions, and the release binary. Source it first: . "$(dirname "$0")/prelude.sh"
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/scripts/lab.sh"
. "$here/assert.sh"
bin=$(switchyard_bin)
