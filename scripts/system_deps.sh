#!/usr/bin/env bash
# Install the Debian packages of requirements/debian-test.txt that are missing, as root
# with apt-get; elsewhere list what is missing and go on (the tests that need a missing
# package fail naming it). Used by scripts/test.sh.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
missing=()
# virtual packages that installed ones provide (nodesource's nodejs provides npm)
provided="$(dpkg-query -W -f='${db:Status-Abbrev} ${Provides}\n' 2>/dev/null | awk '$1=="ii" && NF>1 { $1=""; print }' \
            | tr ',' '\n' | sed 's/([^)]*)//g; s/:any//; s/[[:space:]]//g')"
while read -r line; do
    pkg="${line%%#*}"; pkg="${pkg//[[:space:]]/}"
    [ -n "$pkg" ] || continue
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || grep -qxF "$pkg" <<<"$provided" || missing+=("$pkg")
done < "$repo/requirements/debian-test.txt"
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[clopy test] installing Debian packages: ${missing[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") \
        >/dev/null 2>&1 || echo "[clopy test] could not install: ${missing[*]}"
else
    echo "[clopy test] Debian packages missing (install them as root): ${missing[*]}"
fi
