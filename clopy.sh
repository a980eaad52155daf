#!/usr/bin/env bash
# CLoPy-ROS from a checkout, with no prior set-up:
#   ./clopy.sh setup [--dlc] [--tools]  install (first run) and build the workspace; --dlc adds
#                             DeepLabCut-Live, --tools the docs, parts and browser-test tools
#   ./clopy.sh test           set up (with DeepLabCut-Live), then run every test (colcon test + tests/)
#   ./clopy.sh parts [--out DIR]  the printable rig parts (STL, STEP, DXF, previews)
#   ./clopy.sh docs [serve]   build the documentation site into site/ (serve: on 127.0.0.1)
#   ./clopy.sh demo           set up, then run a simulated CLNF session
#   ./clopy.sh <command> ...  any `clopy` command (run, replay, ...) in the project environment
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
case "${1:-}" in
    setup) shift; exec "$repo/scripts/setup.sh" "$@" ;;
    test) shift; "$repo/scripts/setup.sh" --dlc --tools; exec "$repo/scripts/test.sh" "$@" ;;
    parts) "$repo/scripts/setup.sh" --tools >/dev/null ;;   # then `clopy parts` below
    docs) shift; exec "$repo/scripts/docs.sh" "$@" ;;
esac
"$repo/scripts/setup.sh" >/dev/null
set +u
# shellcheck disable=SC1091
source "$repo/scripts/env.sh"
set -u
exec clopy "$@"
