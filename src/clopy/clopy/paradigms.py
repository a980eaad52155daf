"""The paradigm manifest: each paradigm's nodes, task file, simulation settings and the
subscriptions that must be matched before the camera's first frame.

`clopy run`, the launch files (launch_common), the pre-flight check (the known
paradigms, the simulation backends), the rig split (which node is seen by which topic)
and docs/paradigms.md are all derived from it. Adding a paradigm is one entry in
PARADIGMS, one parameter file (config/<name>.yaml) and one task file.

`python -m clopy.paradigms` prints docs/paradigms.md.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

from clopy_data.folder import TONES_WAV


@dataclass(frozen=True)
class NodeSpec:
    """One node of a graph: its name in the graph, where its executable lives, what it
    does, and a topic only it publishes ('pub') or subscribes to ('sub'), by which
    another computer of a rig sees that it runs."""

    name: str
    package: str
    executable: str
    role: str
    presence: tuple[str, str]
    component: str = ''   # 'module:Class' of the node: run with others in one process (--composed)

    @property
    def entry(self) -> tuple[str, str, str]:
        """(package, executable, node name)."""
        return self.package, self.executable, self.name


NODES = {n.name: n for n in (
    NodeSpec('recorder', 'clopy', 'recorder_node',
             'every topic into the bag, the event log, then the tables, summary row and figure',
             ('task_event', 'sub')),
    NodeSpec('reward', 'clopy_reward', 'reward_node', 'valve, fail signal and TTL outputs with safety limits',
             ('reward_event', 'pub'), 'clopy_reward.reward_node:RewardNode'),
    NodeSpec('lick', 'clopy_reward', 'lick_node', 'the lick sensor (MPR121 over I2C or a digital lickometer): '
             'debounced touch changes on `lick`', ('lick', 'pub')),
    NodeSpec('tone', 'clopy_feedback', 'tone_node', 'the feedback tone (sound card or WAV file)',
             ('tone_event', 'pub'), 'clopy_feedback.tone_node:ToneNode'),
    NodeSpec('task', 'clopy_feedback', 'task_node', 'runs the task file (state machine) on each frame\'s signal',
             ('session_status', 'pub'), 'clopy_feedback.task_node:TaskNode'),
    NodeSpec('roi_dff', 'clopy_signal', 'roi_dff_node', 'ROI dF/F and the rule value: the control signal',
             ('roi_signal', 'pub'), 'clopy_signal.roi_dff_node:RoiDffNode'),
    NodeSpec('pose', 'clopy_signal', 'pose_node', 'body-part positions (DeepLabCut-Live or simulated)',
             ('pose', 'pub'), 'clopy_signal.pose_node:PoseNode'),
    NodeSpec('speed', 'clopy_signal', 'speed_node', 'the control value from the pose (paw speed by default)',
             ('control_signal', 'pub'), 'clopy_signal.speed_node:SpeedNode'),
    NodeSpec('camera', 'clopy_acquisition', 'camera_node', 'frames and frame info; starts last',
             ('image_raw', 'pub'), 'clopy_acquisition.camera_node:CameraNode'),
)}

#: the process of `clopy run --composed` / `composed:=true`: the hot-path nodes together
HOT_PATH = ('clopy', 'hotpath_node', 'hotpath')


def compose(entries: list[tuple[str, str, str]]) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(entries, hot-path node names): the nodes that have a component (camera, roi_dff or
    pose and speed, task, tone, reward) become one HOT_PATH process, started where the last
    of them (the camera) was; the recorder and the lick node stay processes of their own."""
    hot = [name for _, _, name in entries if NODES[name].component]
    if not hot:
        return list(entries), []
    rest = [e for e in entries if e[2] not in hot]
    last = max(i for i, e in enumerate(entries) if e[2] in hot)
    position = sum(1 for e in entries[:last] if e[2] not in hot)
    return rest[:position] + [HOT_PATH] + rest[position:], hot


# topic -> subscribers that must be matched before the camera's first frame
_COMMON_SUBSCRIBERS = {
    'image_raw': 2, 'frame_info': 2, 'control_signal': 2, 'tone': 2,
    'reward': 2, 'task_event': 1, 'reward_event': 1, 'tone_event': 1, 'session_status': 1,
}
# what --sim / sim:=true switches on for every paradigm (an explicit --set still wins)
_SIM_OUTPUTS = {'tone': {'backend': 'wav', 'wav_path': TONES_WAV}, 'reward': {'simulate': True}}


@dataclass(frozen=True)
class Paradigm:
    name: str
    description: str
    node_names: tuple[str, ...]   # start order; the camera last
    task_file: str                # a packaged task name or a path
    sim: dict = field(default_factory=dict)       # node -> {param: value} under --sim
    required: dict = field(default_factory=dict)  # topic -> subscribers before the first frame

    @property
    def nodes(self) -> list[NodeSpec]:
        return [NODES[n] for n in self.node_names]

    def entries(self) -> list[tuple[str, str, str]]:
        """(package, executable, node name) of each node, in start order."""
        return [n.entry for n in self.nodes]

    def required_subscribers(self, params: dict) -> dict[str, int]:
        """`required` for this configuration (the recorder may leave images out)."""
        required = dict(self.required)
        if not params.get('recorder', {}).get('record_images', True):
            required['image_raw'] -= 1
        return required


def _paradigm(name, description, signal_nodes, task_file, camera_source, sim_extra, extra_required, lick=False):
    """lick: the paradigm's rig has a lick sensor (the lick node runs; its `lick` is
    recorded and reaches the task before the first frame)."""
    sim = {'camera': {'source': camera_source}, **_SIM_OUTPUTS, **sim_extra}
    inputs = ('lick',) if lick else ()
    if lick:
        sim['lick'] = {'simulate': True}
        extra_required = dict(extra_required, lick=2)   # the recorder and the task
    return Paradigm(name, description, ('recorder', 'reward', *inputs, 'tone', 'task', *signal_nodes, 'camera'),
                    task_file, sim, dict(_COMMON_SUBSCRIBERS, **extra_required))


PARADIGMS = {p.name: p for p in (
    # CLNF: the original Raspberry Pi rig reads licks (MPR121, electrode 0). CLMF: the
    # original Jetson rig has no lick sensor (gpiozero does not drive a Jetson's pins
    # either), so its graph has no lick node and its table's lick column stays 0.
    _paradigm('clnf_1roi', 'closed-loop neurofeedback on one cortical region (dF/F)', ('roi_dff',), 'clnf',
              'synthetic', {}, {'roi_signal': 1}, lick=True),
    _paradigm('clnf_2roi', 'closed-loop neurofeedback on a rule over two cortical regions', ('roi_dff',), 'clnf',
              'synthetic', {}, {'roi_signal': 1}, lick=True),
    _paradigm('clmf', 'closed-loop movement feedback on a tracked body part\'s speed (DeepLabCut-Live)',
              ('speed', 'pose'), 'clmf', 'synthetic_behaviour', {'pose': {'backend': 'synthetic'}}, {'pose': 2}),
)}


def paradigm(name: str) -> Paradigm:
    """The manifest entry; ValueError naming the allowed ones."""
    try:
        return PARADIGMS[name]
    except KeyError:
        raise ValueError(f'unknown paradigm {name!r}; allowed: {", ".join(PARADIGMS)}') from None


def markdown() -> str:
    """docs/paradigms.md, from the manifest."""
    lines = ['# Paradigms and their nodes', '',
             '<!-- generated by `python -m clopy.paradigms` from src/clopy/clopy/paradigms.py; '
             'src/clopy/test/test_paradigms.py checks it is current -->', '',
             'Each paradigm is one entry of the manifest (`src/clopy/clopy/paradigms.py`), one parameter file '
             '(`config/<paradigm>.yaml`) and one task file. `clopy run` and `ros2 launch clopy '
             '<paradigm>.launch.py` start the nodes below in this order; the camera starts last, once every '
             'subscription listed is matched. Stopping goes the other way (the camera first, the recorder last); '
             'each node also keeps working until the nodes feeding it have gone, so the order holds whatever '
             'stops the graph.', '',
             'With `clopy run --composed` / `composed:=true` the nodes that have a component (camera, roi_dff or '
             'pose and speed, task, tone, reward) run together in one process, `hotpath` '
             '(`clopy hotpath_node --nodes ...`), on one executor, started where the camera was; the recorder '
             'and the lick node keep their own processes. Inside it the same order holds: the camera is made '
             'last and stopped first.', '']
    for p in PARADIGMS.values():
        lines += [f'## `{p.name}`: {p.description}', '',
                  f'Task file: `{p.task_file}`. Under `--sim` / `sim:=true`: '
                  + '; '.join(f'{node}: ' + ', '.join(f'`{k}={v}`' for k, v in values.items())
                              for node, values in p.sim.items()) + '.', '',
                  '| # | node | package | executable | what it does | seen on a rig by |', '|---|---|---|---|---|---|']
        for i, n in enumerate(p.nodes, 1):
            lines.append(f'| {i} | `{n.name}` | `{n.package}` | `{n.executable}` | {n.role} | '
                         f'`{n.presence[0]}` ({"publishes" if n.presence[1] == "pub" else "subscribes"}) |')
        lines += ['', 'Before the first frame: ' + ', '.join(f'`{t}` {k}' for t, k in p.required.items())
                  + ' subscriber(s).', '']
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.stdout.write(markdown())
