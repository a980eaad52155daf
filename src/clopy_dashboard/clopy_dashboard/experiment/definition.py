"""The experiment definition file: subjects, rigs and the per-group day plan of a study.

One YAML file (``config/experiments/<name>.yaml``; docs/experiments.md)::

    name: example
    sim: true                      # every session simulated (else `--sim` per run)
    start_date: 2026-12-01         # optional: day 1 of the study (what is due today)
    rigs:
      - {name: rig1, domain_id: 41}
      - {name: rig2, domain_id: 42, host: rig2.local, dashboard: http://rig2.local:8090}
    subjects:
      - {id: M1, group: grp1, rig: rig1}
    plans:
      grp1:
        - days: 1-10
          paradigm: clnf_1roi
          rois: [BC_L]
          rule: BC_L
          session_type: graded
          trials: 60
          set: [task.v.adapt_window_s=30.0]

Every plan entry is checked the way `clopy run` checks a session (the paradigm's
parameter file, the entry's settings as `--set`, clopy.config.validate), so an unknown
paradigm, ROI or key is refused here, naming the file, the entry and the value.
Plain Python (no rclpy)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from clopy import config as cfg
from clopy_data.session import check_name

TOP_KEYS = ('name', 'description', 'sim', 'start_date', 'rigs', 'subjects', 'plans')
RIG_KEYS = ('name', 'domain_id', 'host', 'dashboard')
SUBJECT_KEYS = ('id', 'group', 'rig')
PLAN_KEYS = ('days', 'paradigm', 'rois', 'rule', 'body_part', 'session_type', 'trials', 'set')
SESSION_TYPES = ('graded', 'fixed_tone', 'no_audio', 'random_reward', 'no_reward')
_DAYS = re.compile(r'^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$')


class ExperimentError(ValueError):
    """An experiment file that cannot be used; the message names the file, the entry and the value."""


@dataclass(frozen=True)
class Rig:
    name: str
    domain_id: int
    host: str = ''
    dashboard: str = ''   # the `clopy dashboard` of the rig's own computer (a rig on another computer)


@dataclass(frozen=True)
class Subject:
    id: str
    group: str
    rig: str


@dataclass(frozen=True)
class DayPlan:
    """One plan entry: days first_day..last_day of a group."""
    group: str
    index: int
    first_day: int
    last_day: int
    paradigm: str
    rois: tuple[str, ...] = ()
    rule: str = ''
    body_part: str = ''
    session_type: str = ''
    trials: int | None = None
    sets: tuple[str, ...] = ()

    @property
    def days(self) -> str:
        return str(self.first_day) if self.first_day == self.last_day else f'{self.first_day}-{self.last_day}'

    @property
    def label(self) -> str:
        return f'plans.{self.group}[{self.index}] (days {self.days})'

    def settings(self) -> list[str]:
        """The entry as `--set` settings (the entry's own `set` last: it wins)."""
        out = []
        if self.rois:
            out.append(f'roi_dff.rois=[{", ".join(self.rois)}]')
        if self.rule:
            out.append(f'roi_dff.rule={self.rule}')
        if self.body_part:
            out.append(f'speed.control_part={self.body_part}')
        if self.session_type:
            out.append(f'task.v.session_type={self.session_type}')
        return out + list(self.sets)


@dataclass
class Experiment:
    name: str
    path: Path
    rigs: dict[str, Rig]
    subjects: dict[str, Subject]
    plans: dict[str, list[DayPlan]]
    sim: bool = False
    start_date: date | None = None
    description: str = ''
    days_by_group: dict[str, list[int]] = field(default_factory=dict)

    def subject(self, subject_id: str) -> Subject:
        if subject_id not in self.subjects:
            raise ExperimentError(f'{self.path}: no subject {subject_id!r}; subjects are '
                                  f'{", ".join(self.subjects)}')
        return self.subjects[subject_id]

    def rig(self, name: str) -> Rig:
        if name not in self.rigs:
            raise ExperimentError(f'{self.path}: no rig {name!r}; rigs are {", ".join(self.rigs)}')
        return self.rigs[name]

    def plan_for(self, subject_id: str, day: int) -> DayPlan:
        """The plan entry of a subject's day; ExperimentError when the group plans no such day."""
        group = self.subject(subject_id).group
        for plan in self.plans[group]:
            if plan.first_day <= day <= plan.last_day:
                return plan
        raise ExperimentError(f'{self.path}: plans.{group}: no day {day} (subject {subject_id}); planned days: '
                              f'{", ".join(p.days for p in self.plans[group])}')

    def days(self, subject_id: str) -> list[int]:
        return self.days_by_group[self.subject(subject_id).group]

    @property
    def all_days(self) -> list[int]:
        return sorted({d for days in self.days_by_group.values() for d in days})


def _fail(path: Path, where: str, message: str) -> ExperimentError:
    return ExperimentError(f'{path}: {where}: {message}')


def _mapping(path: Path, where: str, value: Any, keys: tuple[str, ...], required: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        raise _fail(path, where, f'expected a mapping with {", ".join(keys)}, got {value!r}')
    unknown = [k for k in value if k not in keys]
    if unknown:
        raise _fail(path, where, f'unknown key {unknown[0]!r}; allowed: {", ".join(keys)}')
    missing = [k for k in required if value.get(k) in (None, '')]
    if missing:
        raise _fail(path, where, f'missing {missing[0]!r} (required: {", ".join(required)})')
    return value


def parse_days(path: Path, where: str, value: Any) -> tuple[int, int]:
    """'1-10' -> (1, 10), 3 -> (3, 3); days start at 1."""
    m = _DAYS.match(str(value)) if not isinstance(value, bool) else None
    first, last = (int(m.group(1)), int(m.group(2) or m.group(1))) if m else (0, 0)
    if not m or first < 1 or last < first:
        raise _fail(path, f'{where} days', f'{value!r} is not a day range; allowed: a day (3) or a range '
                                           f'FIRST-LAST with 1 <= FIRST <= LAST ("1-10")')
    return first, last


def _names(path: Path, where: str, value: Any, kind: str) -> str:
    try:
        return check_name(kind, str(value))
    except ValueError as exc:
        raise _fail(path, where, str(exc)) from None


def load_experiment(path: str | Path, check_plans: bool = True) -> Experiment:
    """Read and check an experiment file; ExperimentError names the file, entry and value."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8'))
    except OSError as exc:
        raise ExperimentError(f'{path}: cannot read the experiment file ({exc.strerror})') from None
    except yaml.YAMLError as exc:
        raise ExperimentError(f'{path}: not valid YAML ({exc})') from None
    data = _mapping(path, 'top level', data, TOP_KEYS, ('rigs', 'subjects', 'plans'))
    name = _names(path, 'name', data.get('name') or path.stem, 'experiment')
    rigs: dict[str, Rig] = {}
    domains: dict[int, str] = {}
    if not isinstance(data['rigs'], list):
        raise _fail(path, 'rigs', f'expected a list of {{name, domain_id, host}}, got {data["rigs"]!r}')
    for i, raw in enumerate(data['rigs']):
        r = _mapping(path, f'rigs[{i}]', raw, RIG_KEYS, ('name', 'domain_id'))
        rig_name = _names(path, f'rigs[{i}] name', r['name'], 'rig')
        domain = r['domain_id']
        if isinstance(domain, bool) or not isinstance(domain, int) or not 0 <= domain <= 232:
            raise _fail(path, f'rigs[{i}] ({rig_name}) domain_id', f'{domain!r}; allowed: an integer 0-232')
        if rig_name in rigs:
            raise _fail(path, f'rigs[{i}] name', f'{rig_name!r} is named twice; rig names are unique')
        if domain in domains:
            raise _fail(path, f'rigs[{i}] ({rig_name}) domain_id',
                        f'{domain} is rig {domains[domain]!r}\'s too; each rig has its own ROS domain')
        domains[domain] = rig_name
        host = str(r.get('host') or '')
        rigs[rig_name] = Rig(rig_name, domain, host, _dashboard(path, f'rigs[{i}] ({rig_name})', r.get('dashboard'),
                                                                 host))
    plans = _plans(path, data['plans'], check_plans)
    subjects: dict[str, Subject] = {}
    if not isinstance(data['subjects'], list) or not data['subjects']:
        raise _fail(path, 'subjects', f'expected a list of {{id, group, rig}}, got {data["subjects"]!r}')
    for i, raw in enumerate(data['subjects']):
        s = _mapping(path, f'subjects[{i}]', raw, SUBJECT_KEYS, ('id', 'group'))
        sid = _names(path, f'subjects[{i}] id', s['id'], 'mouse')
        where = f'subjects[{i}] ({sid})'
        if sid in subjects:
            raise _fail(path, f'{where} id', f'{sid!r} is listed twice; subject ids are unique')
        group = str(s['group'])
        if group not in plans:
            raise _fail(path, f'{where} group', f'{group!r} has no plan; groups with a plan: {", ".join(plans)}')
        rig_name = str(s.get('rig') or '')
        if rig_name and rig_name not in rigs:
            raise _fail(path, f'{where} rig', f'{rig_name!r} is no rig of this file; rigs: {", ".join(rigs)}')
        subjects[sid] = Subject(sid, group, rig_name)
    start = data.get('start_date')
    if start is not None and not isinstance(start, date):
        try:
            start = date.fromisoformat(str(start))
        except ValueError:
            raise _fail(path, 'start_date', f'{start!r}; allowed: a date YYYY-MM-DD') from None
    sim = data.get('sim', False)
    if not isinstance(sim, bool):
        raise _fail(path, 'sim', f'{sim!r}; allowed: true or false')
    days = {g: sorted({d for p in ps for d in range(p.first_day, p.last_day + 1)}) for g, ps in plans.items()}
    return Experiment(name, path, rigs, subjects, plans, sim, start, str(data.get('description') or ''), days)


def _dashboard(path: Path, where: str, value: Any, host: str) -> str:
    """The address of a rig computer's own dashboard: http(s)://HOST:PORT, nothing after it."""
    if value in (None, ''):
        return ''
    allowed = 'an address http://HOST:PORT or https://HOST:PORT (the rig computer\'s `clopy dashboard`)'
    text = str(value).strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (not isinstance(value, str) or parts is None or parts.scheme not in ('http', 'https') or not parts.hostname
            or port is None or port == 0 or parts.path not in ('', '/') or parts.query or parts.fragment
            or parts.username or parts.password):
        raise _fail(path, f'{where} dashboard', f'{value!r}; allowed: {allowed}')
    if not host:
        raise _fail(path, f'{where} dashboard', f'{value!r} needs the rig\'s host too: a dashboard address is '
                                                'for a rig on another computer (host: its name)')
    return text.rstrip('/')


def _plans(path: Path, raw: Any, check: bool) -> dict[str, list[DayPlan]]:
    if not isinstance(raw, dict) or not raw:
        raise _fail(path, 'plans', f'expected a mapping group: [entries], got {raw!r}')
    plans: dict[str, list[DayPlan]] = {}
    for group, entries in raw.items():
        if not isinstance(entries, list) or not entries:
            raise _fail(path, f'plans.{group}', f'expected a list of day entries, got {entries!r}')
        plans[str(group)] = []
        for i, entry in enumerate(entries):
            plan = _plan(path, str(group), i, entry)
            for other in plans[str(group)]:
                if plan.first_day <= other.last_day and other.first_day <= plan.last_day:
                    raise _fail(path, f'{plan.label} days', f'{plan.days!r} overlaps {other.label}; each day of '
                                                            'a group has one entry')
            if check:
                check_plan(path, plan)
            plans[str(group)].append(plan)
    return plans


def _strings(path: Path, where: str, value: Any, allowed: str) -> list[str]:
    """A list of strings (one string: a list of one)."""
    value = [value] if isinstance(value, str) else (value or [])
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise _fail(path, where, f'{value!r}; allowed: {allowed}')
    return value


def _plan(path: Path, group: str, i: int, entry: Any) -> DayPlan:
    where = f'plans.{group}[{i}]'
    e = _mapping(path, where, entry, PLAN_KEYS, ('days', 'paradigm'))
    first, last = parse_days(path, where, e['days'])
    paradigm = str(e['paradigm'])
    if paradigm not in cfg.PARADIGMS:
        raise _fail(path, f'{where} paradigm', f'unknown paradigm {paradigm!r}; allowed: {", ".join(cfg.PARADIGMS)}')
    rois = _strings(path, f'{where} rois', e.get('rois'), 'a list of ROI names like [BC_L, BC_R]')
    stype = str(e.get('session_type') or '')
    if stype and stype not in SESSION_TYPES:
        raise _fail(path, f'{where} session_type', f'{stype!r}; allowed: {", ".join(SESSION_TYPES)}')
    trials = e.get('trials')
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 1):
        raise _fail(path, f'{where} trials', f'{trials!r}; allowed: an integer >= 1')
    sets = _strings(path, f'{where} set', e.get('set'), 'a list of node.param=value')
    return DayPlan(group, i, first, last, paradigm, tuple(rois), str(e.get('rule') or ''),
                   str(e.get('body_part') or ''), stype, trials, tuple(sets))


def check_plan(path: Path, plan: DayPlan) -> None:
    """The entry checked as `clopy run` checks a session: the paradigm's parameter file,
    simulation switches, the entry's settings, then clopy.config.validate (every key
    and value against the node schemas, the ROIs and the rule)."""
    source = f'{path}: {plan.label}'
    try:
        _, params = cfg.load_params(plan.paradigm)
        cfg.apply_simulation(params, plan.paradigm)   # the check needs no hardware
        for setting in plan.settings():   # as clopy run: after the simulation switches
            cfg.apply_set(params, setting, source=source)
        if plan.trials is not None:
            params.setdefault('task', {})['v.total_trials'] = plan.trials
        cfg.validate(params, Path(source))
        part = params.get('speed', {}).get('control_part')
        parts = params.get('pose', {}).get('body_parts') or []
        if part is not None and parts and part not in parts:
            raise cfg.ConfigError(f'{source} body_part: {part!r} is no body part of the pose model; allowed: '
                                  f'{", ".join(parts)}')
    except cfg.ConfigError as exc:
        text = str(exc)
        raise ExperimentError(text if str(path) in text else f'{source}: {text}') from None


def find_experiment(name_or_path: str, data_root: Path | None = None) -> Path:
    """An experiment file: a path, or a name in config/experiments/ or <data_root>/experiments/."""
    given = Path(name_or_path)
    if given.suffix in ('.yaml', '.yml') or given.is_file():
        if not given.is_file():
            raise ExperimentError(f'{given}: no such experiment file')
        return given
    places = experiment_dirs(data_root)
    for folder in places:
        for suffix in ('.yaml', '.yml'):
            if (folder / f'{name_or_path}{suffix}').is_file():
                return folder / f'{name_or_path}{suffix}'
    raise ExperimentError(f'no experiment {name_or_path!r}: looked for {name_or_path}.yaml in '
                          f'{", ".join(str(p) for p in places)}')


def experiment_dirs(data_root: Path | None = None) -> list[Path]:
    """Where experiment files are looked for: config/experiments of the checkout (or the
    installed copy), of the current folder, and <data_root>/experiments."""
    dirs = [Path(__file__).resolve().parents[4] / 'config' / 'experiments',
            Path.cwd() / 'config' / 'experiments']
    try:
        from ament_index_python.packages import get_package_share_directory
        dirs.append(Path(get_package_share_directory('clopy_dashboard')) / 'experiments')
    except Exception:  # noqa: BLE001 - not installed: the checkout
        pass
    if data_root is not None:
        dirs.append(Path(data_root) / 'experiments')
    unique: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [u.resolve() for u in unique]:
            unique.append(d)
    return unique or dirs[:1]
