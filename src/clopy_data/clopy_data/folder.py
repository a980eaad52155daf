"""The session folder: every file name of a session is defined here, once.

A session folder ``<out>/<paradigm>/<mouse>_<YYYYmmdd-HHMMSS>/`` holds::

    bag/                  rosbag2 (MCAP) of every topic; bag/metadata.yaml once closed
    bag_salvaged/         a bag never closed (recorder killed), salvaged by the offline tools;
                          bag_salvaged/salvage_report.json says what was lost
    events.tsv            pyControl-style event log (tab separated)
    parameters.yaml       the parameters that ran (ROS parameter-file layout)
    VideoTimestamp.txt    the per-frame table in the original CLoPy's columns
    summary.png           the session's summary figure
    tones.wav             what the speaker would have played (WAV sink)
    logs/                 one log file per node
    logs/node_exits.tsv   under ros2 launch: each node process that exited (name, exit status),
                          in order; the recorder's end reason when no node said why
    threshold_sim/        output of the offline threshold simulation
    <task file>.py        the task file that ran (archived copy)
    experiment.yaml       a session of an experiment: experiment, subject, group, day, rig
                          (clopy experiment run; the registry is rebuilt from these)
    UNFINISHED            marker: written when the recorder starts, removed once the folder is
                          finished (frame table and summary row); `clopy tables` finishes a
                          marked folder

and ``<out>/sessions_summary.csv`` collects one row per session.

Nothing here imports rclpy or generated message modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

BAG = 'bag'
BAG_METADATA = 'metadata.yaml'
SALVAGED_SUFFIX = '_salvaged'
BAG_SALVAGED = BAG + SALVAGED_SUFFIX
SALVAGE_REPORT = 'salvage_report.json'
EVENTS = 'events.tsv'
PARAMETERS = 'parameters.yaml'
FRAME_TABLE = 'VideoTimestamp.txt'
SUMMARY_FIGURE = 'summary.png'
TONES_WAV = 'tones.wav'
LOGS = 'logs'
THRESHOLD_SIM = 'threshold_sim'
SESSIONS_SUMMARY = 'sessions_summary.csv'
NODE_EXITS = 'node_exits.tsv'
EXPERIMENT = 'experiment.yaml'
UNFINISHED = 'UNFINISHED'
UNFINISHED_TEXT = ('This session folder is not finished yet (recording, or the recorder was stopped before it '
                   'made the per-frame table and the summary row).\nRun `clopy tables {path}` to finish it.\n')


class SessionFolderError(Exception):
    """The path is not a usable session folder (names the path and what is missing)."""


class SessionFolder:
    """One session's folder. Paths are properties; nothing is created or read on construction."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f'SessionFolder({str(self.path)!r})'

    def __fspath__(self) -> str:
        return str(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def bag(self) -> Path:
        return self.path / BAG

    @property
    def bag_metadata(self) -> Path:
        return self.bag / BAG_METADATA

    @property
    def bag_closed(self) -> bool:
        """The recorder closed the bag (metadata written); otherwise it needs salvage."""
        return self.bag_metadata.is_file()

    @property
    def bag_salvaged(self) -> Path:
        """Where the offline tools salvage an unclosed bag (see :func:`salvaged_bag_dir`)."""
        return salvaged_bag_dir(self.bag)

    @property
    def events(self) -> Path:
        return self.path / EVENTS

    @property
    def parameters(self) -> Path:
        return self.path / PARAMETERS

    @property
    def frame_table(self) -> Path:
        return self.path / FRAME_TABLE

    @property
    def summary_figure(self) -> Path:
        return self.path / SUMMARY_FIGURE

    @property
    def experiment(self) -> Path:
        """Which experiment, subject, day and rig the session belongs to (:data:`EXPERIMENT`)."""
        return self.path / EXPERIMENT

    @property
    def tones_wav(self) -> Path:
        return self.path / TONES_WAV

    @property
    def unfinished_marker(self) -> Path:
        return self.path / UNFINISHED

    @property
    def unfinished(self) -> bool:
        """Marked unfinished (see :data:`UNFINISHED`), or a bag without a per-frame table."""
        return self.unfinished_marker.is_file() or (self.bag.is_dir() and not self.frame_table.is_file())

    def mark_unfinished(self) -> None:
        """Write the marker (the recorder, when it starts)."""
        self.unfinished_marker.write_text(UNFINISHED_TEXT.format(path=self.path), encoding='utf-8')

    def mark_finished(self) -> None:
        """Remove the marker (once the frame table and the summary row are written)."""
        self.unfinished_marker.unlink(missing_ok=True)

    @property
    def default_sessions_summary(self) -> Path:
        """The sessions table of the output root this folder is in
        (``<out>/<paradigm>/<session>`` -> ``<out>/sessions_summary.csv``, as the recorder
        writes it); a folder moved out of that layout: the table beside it."""
        path = self.path.absolute()
        paradigm = self.node_parameters('recorder').get('paradigm')
        return self.sessions_summary(path.parents[1] if paradigm and path.parent.name == paradigm
                                     else path.parent)

    @property
    def logs(self) -> Path:
        return self.path / LOGS

    def log(self, node: str) -> Path:
        """The log file of one node (``logs/<node>.log``)."""
        return self.logs / f'{node}.log'

    @property
    def node_exits(self) -> Path:
        return self.logs / NODE_EXITS

    def record_node_exit(self, name: str, code: int) -> None:
        """Append `<name>\\t<exit status>` (ros2 launch, when a node process exits)."""
        self.logs.mkdir(parents=True, exist_ok=True)
        with self.node_exits.open('a', encoding='utf-8') as f:
            f.write(f'{name}\t{int(code)}\n')

    def first_node_exit(self) -> tuple[str, int] | None:
        """The first node process that exited, as :meth:`record_node_exit` wrote it."""
        try:
            first = self.node_exits.read_text(encoding='utf-8').split('\n', 1)[0].split('\t')
            return first[0], int(first[1])
        except (OSError, ValueError, IndexError):
            return None

    @property
    def threshold_sim(self) -> Path:
        return self.path / THRESHOLD_SIM

    @staticmethod
    def sessions_summary(out_root: str | Path) -> Path:
        """The sessions table of an output root (one row per session)."""
        return Path(out_root) / SESSIONS_SUMMARY

    def is_session(self) -> bool:
        """A folder with a bag or a frame table and its parameters."""
        return self.path.is_dir() and self.parameters.is_file() and (
            self.bag.is_dir() or self.frame_table.is_file())

    def read_parameters(self, required: bool = True) -> dict[str, Any]:
        """parameters.yaml as a dict (the one reader of that file).

        ``required=False`` returns {} when the file is missing.
        """
        return read_parameters(self.parameters, required=required)

    def node_parameters(self, node: str, required: bool = False) -> dict[str, Any]:
        """``<node>: ros__parameters:`` of parameters.yaml ({} when absent)."""
        return node_parameters(self.read_parameters(required=required), node)


def salvaged_bag_dir(bag_dir: str | Path) -> Path:
    """The sibling folder an unclosed bag is salvaged into: ``<bag>_salvaged``."""
    bag_dir = Path(bag_dir)
    return bag_dir.with_name(bag_dir.name + SALVAGED_SUFFIX)


def read_parameters(path: str | Path, required: bool = True) -> dict[str, Any]:
    """Read a ROS parameter file (``node: {ros__parameters: {...}}``) into a dict."""
    path = Path(path)
    if not path.is_file():
        if required:
            raise SessionFolderError(f'{path}: missing; is {path.parent} a session folder?')
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8'))
    except yaml.YAMLError as exc:
        raise SessionFolderError(f'{path}: not valid YAML ({exc})') from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SessionFolderError(f'{path}: top level is {type(data).__name__}; allowed: a mapping of node names')
    return data


def node_parameters(params: dict[str, Any], node: str) -> dict[str, Any]:
    """The ``ros__parameters`` mapping of one node in a parameter dict ({} when absent)."""
    block = params.get(node) or {}
    if not isinstance(block, dict):
        return {}
    return dict(block.get('ros__parameters') or {})
