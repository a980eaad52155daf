"""`clopy experiment ...`: the experiment manager's commands (docs/experiments.md).

  clopy experiment subjects EXP                       subjects, groups, rigs, each one's next day
  clopy experiment run EXP --subject M --day N [--rig R] [--sim] [--data-root DIR]
  clopy experiment status EXP                         who ran which day, what is due, what failed
                                                      (rig computers asked with CLOPY_RIG_TOKENS)
  clopy experiment rebuild EXP                        the registry again from the session folders
  clopy experiment curve EXP                          learning curves (PNG) and statistics

EXP is a name in config/experiments/ (or <data root>/experiments/) or a path to a file.
The data root (default: sessions/, as `clopy run --out`) holds the session folders, the
registry clopy.sqlite and the mouse profiles."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from clopy import config as cfg

from clopy_dashboard.experiment import records
from clopy_dashboard.experiment.definition import ExperimentError, find_experiment, load_experiment
from clopy_dashboard.experiment.pairing import PairingError
from clopy_dashboard.experiment.registry import Registry, RegistryError

DEFAULT_DATA_ROOT = Path('sessions')


def add_command(sub) -> None:
    p = sub.add_parser('experiment', help='experiments: subjects, day plans, rigs, registry',
                       description=__doc__.split('\n\n')[1])
    cmds = p.add_subparsers(dest='experiment_command', required=True)

    def command(name: str, help: str, func) -> argparse.ArgumentParser:
        c = cmds.add_parser(name, help=help)
        c.add_argument('experiment', metavar='EXP', help='experiment name or file')
        c.add_argument('--data-root', type=Path, default=DEFAULT_DATA_ROOT,
                       help='folder of the session folders and the registry (default: sessions)')
        c.set_defaults(func=lambda args: _guard(func, args))
        return c

    command('subjects', 'subjects, groups, rigs and the day each is due', subjects_command)
    run = command('run', "run a subject's day of the plan on a rig", run_command)
    run.add_argument('--subject', required=True, help='subject id')
    run.add_argument('--day', required=True, type=int, help='day of the plan (1 = the first)')
    run.add_argument('--rig', help="rig name (default: the subject's rig)")
    run.add_argument('--sim', action='store_true', default=None,
                     help='simulation (default: the file\'s "sim")')
    command('status', 'who ran which day, what is due, what failed, what runs on each rig', status_command)
    command('rebuild', 'make the registry again from the session folders', rebuild_command)
    command('curve', 'learning curves per subject (PNG) and the learning statistics', curve_command)


def _guard(func, args) -> int:
    try:
        return func(args)
    except (ExperimentError, RegistryError, PairingError, cfg.ConfigError) as exc:
        print(f'clopy experiment: {exc}', file=sys.stderr)
        return 2


def _load(args):
    exp = load_experiment(find_experiment(args.experiment, args.data_root))
    return exp, Registry(args.data_root)


def _overview(args, ask_rigs: bool = False):
    """The overview; with ask_rigs, first what the rig computers whose token CLOPY_RIG_TOKENS
    gives say now (imported; the others as last seen). Returns (overview, {rig: why not})."""
    from clopy_dashboard.experiment.overview import overview
    exp, registry = _load(args)
    unreachable: dict[str, str] = {}
    with registry:
        records.refresh(registry)
        if ask_rigs:
            from clopy_dashboard.experiment.pairing import TOKENS_ENV, rig_tokens
            from clopy_dashboard.experiment.remote import remote_rigs, sync
            tokens = rig_tokens([], os.environ.get(TOKENS_ENV))
            unreachable = sync(exp, registry, tokens, [r for r in remote_rigs(exp) if r.name in tokens])
        return overview(exp, registry.sessions(exp.name)), unreachable


def subjects_command(args) -> int:
    ov, _ = _overview(args)
    print(f'{"subject":<12}{"group":<8}{"rig":<8}{"next day":<10}{"water ul":>9}  plan of the next day')
    for s in ov.subjects:
        plan = ov.experiment.plan_for(s.subject, s.due).label if s.due else 'all days done'
        print(f'{s.subject:<12}{s.group:<8}{s.rig or "-":<8}{s.due or "-"!s:<10}{s.water_ul:>9.1f}  {plan}')
    return 0


def status_command(args) -> int:
    from clopy_dashboard.experiment.overview import status_text
    print(status_text(*_overview(args, ask_rigs=True)))
    return 0


def run_command(args) -> int:
    from clopy_dashboard.experiment.run_day import run_day
    exp = load_experiment(find_experiment(args.experiment, args.data_root))
    return run_day(exp, args.subject, args.day, args.data_root, rig=args.rig, sim=args.sim)


def rebuild_command(args) -> int:
    exp, registry = _load(args)
    with registry:
        n = records.rebuild(registry, exp.name, [(s.id, s.group, s.rig) for s in exp.subjects.values()])
    print(f'{registry.path}: {n} sessions of {exp.name} from the session folders under {args.data_root}')
    return 0


def curve_command(args) -> int:
    from clopy_data.analysis import format_stats

    from clopy_dashboard.experiment.curve import draw_all
    exp, registry = _load(args)
    with registry:
        records.refresh(registry)
        paths, stats = draw_all(args.data_root, exp, registry.sessions(exp.name))
    if len(stats):
        print(format_stats(stats))
    for path in paths:
        print(f'learning curve: {path}')
    if not paths:
        print(f'{exp.name}: no session with a summary yet')
    return 0
