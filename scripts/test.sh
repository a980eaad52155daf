#!/usr/bin/env bash
# Run every CLoPy-ROS test: `colcon test` for all packages (unit tests), gated on
# `colcon test-result`, then the whole-graph tests in tests/.
# Usually called as `./clopy.sh test`, which runs scripts/setup.sh first.
# Extra arguments go to the whole-graph pytest run (e.g. -k smoke).
#
# While the tests run, and where tcpdump is available (as root), every
# non-loopback interface is watched: any UDP packet leaving the machine fails
# the run, because DDS discovery must stay on this computer.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
set +u
# shellcheck disable=SC1091
source "$repo/scripts/env.sh" || exit 1
set -u
# A domain of its own for this run; each graph test also leases its own.
export ROS_DOMAIN_ID=$(( (RANDOM % 100) + 1 ))
results="$repo/build/test-results"
rm -rf "$results" && mkdir -p "$results"

# --- watch the real interfaces --------------------------------------------------
watchers=()
# the Debian packages the tests need (tcpdump for this watch, simavr, Aravis, ...)
"$repo/scripts/system_deps.sh"
# downloads come before the watch starts: the StandardFirmata build the simavr test runs
# (cached and checksummed; when it fails, that test fails naming why)
"$repo/scripts/fetch_firmata_hex.sh" >/dev/null || echo "[clopy test] StandardFirmata not fetched"
# the documentation site's strict build (a broken link or API reference fails the run); here,
# before the watch, since the first run installs requirements/docs.txt
"$repo/scripts/docs.sh" check
docs_rc=$?
if command -v tcpdump >/dev/null && [ "$(id -u)" = 0 ]; then
    for dev in /sys/class/net/*; do
        name="$(basename "$dev")"
        [ "$name" = lo ] && continue
        [ "$(cat "$dev/operstate" 2>/dev/null)" = down ] && continue
        tcpdump -i "$name" -n -U -w "$results/udp-$name.pcap" udp 2>/dev/null &
        watchers+=("$!:$name")
    done
    sleep 1
    echo "[clopy test] watching ${#watchers[@]} non-loopback interface(s) for UDP"
else
    echo "[clopy test] network check skipped: needs tcpdump and root"
fi

# --- unit tests of every package -------------------------------------------------
started="$results/.started"
touch "$started"
colcon --log-base "$repo/log" test --base-paths "$repo/src" --build-base "$repo/build" \
    --install-base "$repo/install" --event-handlers console_direct+ summary+ \
    --pytest-args -q -p no:cacheprovider
colcon_rc=$?
# colcon reports a package whose test step broke (its tests never ran) as finished: every
# package with tests must have written its results during this run
missing=()
for t in "$repo"/src/*/test; do
    pkg="$(basename "$(dirname "$t")")"
    [ "$repo/build/$pkg/pytest.xml" -nt "$started" ] || missing+=("$pkg")
done
if [ "${#missing[@]}" != 0 ]; then
    echo "[clopy test] FAIL: no test results from ${missing[*]} (see log/latest_test)" >&2
    colcon_rc=1
fi
colcon test-result --test-result-base "$repo/build" --all > "$results/colcon.txt" 2>&1
colcon test-result --test-result-base "$repo/build" --verbose
unit_rc=$?
if [ "$colcon_rc" != 0 ]; then
    unit_rc=1
fi

# --- whole-graph tests ----------------------------------------------------------
python -m pytest "$repo/tests" -p no:cacheprovider -q -rs --junitxml="$results/graph.xml" "$@"
graph_rc=$?
[ "$graph_rc" = 5 ] && { echo "[clopy test] no whole-graph test ran" >&2; graph_rc=1; }

# --- network verdict --------------------------------------------------------------
net_rc=0
for w in "${watchers[@]}"; do
    pid="${w%%:*}"; name="${w#*:}"
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    n=$(tcpdump -r "$results/udp-$name.pcap" -n 2>/dev/null | wc -l)
    if [ "$n" != 0 ]; then
        echo "[clopy test] FAIL: $n UDP packet(s) left through $name:" >&2
        tcpdump -r "$results/udp-$name.pcap" -n 2>/dev/null | head -5 >&2
        net_rc=1
    else
        echo "[clopy test] no UDP packet left through $name"
    fi
done

# --- one closing line over everything ------------------------------------------
python - "$results" "$repo/build" <<'PY'
import pathlib, sys, xml.etree.ElementTree as ET
results, build = map(pathlib.Path, sys.argv[1:])
files = [p for p in build.glob('*/pytest.xml')] + [p for p in build.glob('*/test_results/**/*.xml')]
files.append(results / 'graph.xml')
tests = failed = skipped = 0
for f in files:
    if not f.exists():
        continue
    root = ET.parse(f).getroot()
    for suite in ([root] if root.tag == 'testsuite' else root.iter('testsuite')):
        tests += int(suite.get('tests', 0))
        failed += int(suite.get('failures', 0)) + int(suite.get('errors', 0))
        skipped += int(suite.get('skipped', 0))
print(f'Total: {tests - failed - skipped} passed, {failed} failed, {skipped} skipped')
PY
[ "$unit_rc" = 0 ] && [ "$graph_rc" = 0 ] && [ "$net_rc" = 0 ] && [ "$docs_rc" = 0 ]
