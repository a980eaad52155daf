# Source this file to use CLoPy-ROS in a shell:  source scripts/env.sh
# - activates .venv and the workspace overlay (install/setup.bash);
# - keeps DDS on this computer: ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST and the
#   loopback Fast DDS profile (config/fastdds_loopback.xml);
# - picks a ROS_DOMAIN_ID for this shell unless one is set.
# A multi-computer rig sets CLOPY_NETWORK=rig before sourcing: discovery is then
# this computer plus ROS_STATIC_PEERS (LOCALHOST range); `clopy run --peers` writes
# the rig's Fast DDS profile itself (see README, "Rig with several computers").
_clopy_repo="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
if [ ! -f "$_clopy_repo/install/setup.bash" ]; then
    echo "CLoPy-ROS is not built yet: run $_clopy_repo/scripts/setup.sh" >&2
    return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
source "$_clopy_repo/.venv/bin/activate"
# shellcheck disable=SC1091
source "$_clopy_repo/install/setup.bash"
# PyPI world: the ROS wheels' packages (std_msgs, rclpy, ...) live under the venv
# prefix; on AMENT_PREFIX_PATH they are visible to `ros2 interface`, `ros2 pkg` and launch.
if [ "$(cat "$_clopy_repo/.venv/.clopy-world" 2>/dev/null)" = "pypi" ]; then
    case ":${AMENT_PREFIX_PATH:-}:" in
        *":$VIRTUAL_ENV:"*) ;;
        *) export AMENT_PREFIX_PATH="${AMENT_PREFIX_PATH:+$AMENT_PREFIX_PATH:}$VIRTUAL_ENV" ;;
    esac
fi
if [ "${CLOPY_NETWORK:-loopback}" = "loopback" ]; then
    export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
    # Fast DDS 3 (Kilted, PyPI) reads FASTDDS_*, Fast DDS 2 (Humble, Jazzy) FASTRTPS_*;
    # only the one it reads is set (Fast DDS 3 loads both and reports duplicates)
    unset FASTDDS_DEFAULT_PROFILES_FILE FASTRTPS_DEFAULT_PROFILES_FILE
    case "${ROS_DISTRO:-}" in
        humble|jazzy) export FASTRTPS_DEFAULT_PROFILES_FILE="$_clopy_repo/config/fastdds_loopback.xml" ;;
        *) export FASTDDS_DEFAULT_PROFILES_FILE="$_clopy_repo/config/fastdds_loopback.xml" ;;
    esac
    # Humble predates the range variable; it has the older switch instead.
    if [ "${ROS_DISTRO:-}" = "humble" ]; then export ROS_LOCALHOST_ONLY=1; fi
elif [ "${CLOPY_NETWORK}" = "rig" ]; then
    # no multicast: this computer and the static peers only
    export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
    unset FASTDDS_DEFAULT_PROFILES_FILE FASTRTPS_DEFAULT_PROFILES_FILE ROS_LOCALHOST_ONLY
    [ -n "${ROS_STATIC_PEERS:-}" ] || echo "CLOPY_NETWORK=rig: set ROS_STATIC_PEERS (or give clopy run --peers)" >&2
else
    echo "CLOPY_NETWORK=${CLOPY_NETWORK}: allowed: loopback, rig" >&2
fi
if [ -z "${ROS_DOMAIN_ID:-}" ]; then
    # Distinct per shell so two sessions on one machine never cross-talk.
    export ROS_DOMAIN_ID=$(( ($$ % 100) + 1 ))
fi
export CLOPY_REPO="$_clopy_repo"
unset _clopy_repo
