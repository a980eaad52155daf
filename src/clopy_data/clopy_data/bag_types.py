"""Message types for bags: the project's ``.msg`` definitions read as text and
registered in a rosbags typestore, so bags are written and read without ROS.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rosbags.interfaces import Connection, MessageDefinitionFormat
from rosbags.typesys import Stores, get_typestore, get_types_from_idl, get_types_from_msg
from rosbags.typesys.store import Typestore

#: Package whose interfaces are registered in the typestore.
INTERFACES_PACKAGE = 'clopy_interfaces'

#: This package: a pip install keeps a copy of the ``.msg`` files in its share folder.
DATA_PACKAGE = 'clopy_data'


class BagError(RuntimeError):
    """A bag could not be written or read as asked."""


def _ros2_store() -> Stores:
    """Kilted if this rosbags knows it (the rigs' distro), else the newest ROS 2 store."""
    kilted = getattr(Stores, 'ROS2_KILTED', None)
    if kilted is not None:
        return kilted
    ros2 = [s for s in Stores if s.name.startswith('ROS2_')]
    if not ros2:  # pragma: no cover - every rosbags release has ROS 2 stores
        raise BagError('rosbags has no ROS 2 typestore')
    return ros2[-1]  # enum order is release order


def find_interface_dir(kind: str = 'msg') -> Path:
    """Folder with the ``clopy_interfaces`` ``.msg`` files (``kind='srv'``: ``.srv``).

    Looked for in this order, so bags decode on a ROS install, in a plain pip
    install without ROS, and in a source checkout without any build:

    1. the ament index: ``share/clopy_interfaces/<kind>`` (when
       ``ament_index_python`` imports and knows the package);
    2. ``<sys.prefix>/share/clopy_data/<kind>`` (``pip install src/clopy_data``
       copies the ``.msg`` files there);
    3. the source tree: ``src/clopy_interfaces/<kind>`` next to this package.
    """
    looked: list[str] = []
    try:
        from ament_index_python.packages import get_package_share_directory
    except ImportError:
        looked.append('ament index (ament_index_python not installed)')
    else:
        try:
            share = Path(get_package_share_directory(INTERFACES_PACKAGE)) / kind
        except (LookupError, OSError, ValueError):
            # Not installed, or AMENT_PREFIX_PATH unset.
            looked.append(f'ament index (no package {INTERFACES_PACKAGE})')
        else:
            if share.is_dir():
                return share
            looked.append(str(share))
    candidates = (
        Path(sys.prefix) / 'share' / DATA_PACKAGE / kind,
        Path(__file__).resolve().parents[2] / INTERFACES_PACKAGE / kind,
    )
    for folder in candidates:
        if folder.is_dir():
            return folder
        looked.append(str(folder))
    raise BagError(
        f'cannot find the {INTERFACES_PACKAGE} {kind} folder; looked in: ' + '; '.join(looked)
    )


def typestore_with_clopy(msg_dirs: Sequence[Path] | None = None) -> Typestore:
    """A ROS 2 typestore with every ``clopy_interfaces`` message registered.

    Types are named like ``clopy_interfaces/msg/RoiSignal``. Service types are not
    registered: rosbags normalises every type name to ``pkg/msg/Name``, so
    ``clopy_interfaces/srv/ManualReward_Request`` cannot be named correctly, and
    the recorder does not record services.

    Args:
        msg_dirs: folders of ``.msg`` files; default :func:`find_interface_dir`.
    """
    store = get_typestore(_ros2_store())
    dirs = [Path(d) for d in msg_dirs] if msg_dirs else [find_interface_dir('msg')]
    types: dict[str, Any] = {}
    sources: dict[str, Path] = {}
    for folder in dirs:
        files = sorted(folder.glob('*.msg'))
        if not files:
            raise BagError(f'{folder}: no .msg files found')
        for path in files:
            name = f'{INTERFACES_PACKAGE}/msg/{path.stem}'
            try:
                types.update(get_types_from_msg(path.read_text(encoding='utf-8'), name))
            except Exception as exc:  # rosbags raises several parser error types
                raise BagError(f'{path}: cannot parse message {name}: {exc}') from exc
            sources[name] = path
    store.register(types)
    # The parser accepts any word as a type name; resolving every definition now
    # turns a typo ('flot64') into an error here instead of at the first write.
    for name, path in sources.items():
        try:
            store.get_msgdef(name)
        except Exception as exc:
            raise BagError(f'{path}: message {name} refers to an unknown type: {exc}') from exc
    return store


def typestore_from_definitions(connections: Sequence[Connection]) -> Typestore:
    """Typestore built from the message definitions embedded in a bag."""
    types: dict[str, Any] = {}
    sep = '=' * 80 + '\n'
    for conn in connections:
        fmt, data = conn.msgdef.format, conn.msgdef.data
        if fmt == MessageDefinitionFormat.MSG:
            types.update(get_types_from_msg(data, conn.msgtype))
        elif fmt == MessageDefinitionFormat.IDL:
            # Several IDL files are concatenated as '=' * 80 + '\nIDL: <name>\n<idl>'.
            if data.startswith(f'{sep}IDL: '):
                for part in data.split(sep)[1:]:
                    types.update(get_types_from_idl(part.split('\n', 1)[1]))
            else:
                types.update(get_types_from_idl(data))
    store = get_typestore(Stores.EMPTY)
    store.register(types)
    return store
