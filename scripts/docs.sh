#!/usr/bin/env bash
# Build the CLoPy-ROS documentation site (MkDocs, Material theme, mkdocstrings) from docs/.
#   ./clopy.sh docs            set up (if needed), install requirements/docs.txt into .venv when
#                           a pinned tool is missing, regenerate the generated pages
#                           (docs/parameters.md, docs/paradigms.md), then
#                           `mkdocs build --strict` into site/ and print site/index.html
#   ./clopy.sh docs serve      the same, then serve the site on 127.0.0.1 (default port 8000;
#                           extra arguments go to `mkdocs serve`, e.g. -a 127.0.0.1:8010)
#   scripts/docs.sh check   CI (scripts/test.sh): the strict build only, into build/docs-site,
#                           generated pages left as they are (tests check that they are current);
#                           any warning (a broken link, a missing page or API object) fails
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
say() { printf '[clopy docs] %s\n' "$*"; }
die() { printf '[clopy docs] error: %s\n' "$*" >&2; exit 1; }

mode="build"
case "${1:-}" in
    serve|check) mode="$1"; shift ;;
    build) shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) die "unknown argument ${1} (allowed: serve, check, or nothing)" ;;
esac
[ "$mode" = serve ] || [ "$#" = 0 ] || die "unexpected arguments: $* (only 'serve' takes more)"

"$repo/scripts/setup.sh" >/dev/null
set +u
# shellcheck disable=SC1091
source "$repo/scripts/env.sh" || exit 1
set -u
# Material prints a notice about MkDocs 2.0 on every build: not about this site
export NO_MKDOCS_2_WARNING=1

# the pinned documentation tools, once
if ! python - <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
want = {}
for line in open('requirements/docs.txt'):
    line = line.split('#')[0].strip()
    if '==' in line:
        name, ver = line.split('==')
        want[name.strip()] = ver.strip()
sys.exit(0 if all(version(n) == v for n, v in want.items()) else 1)
PY
then
    say "installing requirements/docs.txt into $VIRTUAL_ENV"
    lock=requirements/lock.txt
    python -c 'import sys; sys.exit(sys.version_info[:2] == (3, 10))' || lock=requirements/lock-py310.txt
    constraints=()
    # the world with the PyPI ROS wheels holds every shared dependency at the lock's version
    [ "$(cat .venv/.clopy-world 2>/dev/null)" = pypi ] && [ -f "$lock" ] && constraints=(-c "$lock")
    python -m pip install --disable-pip-version-check -q -r requirements/docs.txt "${constraints[@]}" \
        || die "could not install requirements/docs.txt (pip's message above)"
fi

# mkdocs build --strict, its INFO lines left out. Not --quiet: that silences the warnings, and
# then --strict has none to count (a broken link would pass).
build() {
    mkdocs build --strict "$@" 2>&1 | { grep -v '^INFO ' || true; }
}

if [ "$mode" = check ]; then
    out="$repo/build/docs-site"
    build --site-dir "$out" || die "mkdocs build --strict failed (warnings above)"
    say "site builds with no warning ($out)"
    exit 0
fi

# the generated pages, from the code
python scripts/gen_param_docs.py >/dev/null
python -m clopy.paradigms > build/paradigms.md.new && mv build/paradigms.md.new docs/paradigms.md

if [ "$mode" = serve ]; then
    # on this computer only: every address given must be 127.0.0.1:PORT
    for arg in "$@"; do
        addr="${arg#--dev-addr=}"
        case "$addr" in
            127.0.0.1:*) ;;
            *:*) die "serve only on this computer: -a 127.0.0.1:PORT (not $arg)" ;;
        esac
    done
    [[ " $* " == *" -a "* || " $* " == *"--dev-addr"* ]] || set -- -a 127.0.0.1:8000 "$@"
    exec mkdocs serve "$@"
fi
build || die "mkdocs build --strict failed (warnings above)"
say "site: $repo/site/index.html"
