"""``clopy parts [--out DIR] [--only NAME,...] [--set PART.PARAM=VALUE ...] [--list] [--models DIR]``:
write the rig's printable parts (STL, STEP, DXF for laser-cut panels, a preview PNG each).

The models are code in the source checkout's ``3D-print/rig_parts`` (build123d, see
docs/parts.md); an installed rig without the checkout has no models, and the command
says where it looked. Search order: ``--models``, ``$CLOPY_REPO/3D-print`` (set by
scripts/env.sh), then the folders above this module's resolved path (a
``colcon build --symlink-install`` links it back into the checkout's src/).
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
from pathlib import Path
from typing import Any

MODELS_DIR = '3D-print'
MODELS_PACKAGE = 'rig_parts'
REQUIREMENTS = 'requirements/parts.txt'


class PartsCommandError(Exception):
    """A bad option value or a missing models folder, with what to do about it."""


def candidate_folders(models: Path | None = None, environ: dict[str, str] | None = None,
                      module_file: str = __file__) -> list[Path]:
    """Folders that may hold ``rig_parts``, in search order."""
    if models is not None:
        return [models]
    environ = os.environ if environ is None else environ
    out: list[Path] = []
    if environ.get('CLOPY_REPO'):
        out.append(Path(environ['CLOPY_REPO']) / MODELS_DIR)
    out += [parent / MODELS_DIR for parent in Path(module_file).resolve().parents]
    return out


def find_models(models: Path | None = None, environ: dict[str, str] | None = None,
                module_file: str = __file__) -> Path:
    """The 3D-print folder holding the models; PartsCommandError says where it looked."""
    candidates = candidate_folders(models, environ, module_file)
    for folder in candidates:
        if (folder / MODELS_PACKAGE / '__init__.py').is_file():
            return folder.resolve()
    looked = ', '.join(str(c) for c in candidates[:4]) + (', ...' if len(candidates) > 4 else '')
    raise PartsCommandError(
        f'no {MODELS_DIR}/{MODELS_PACKAGE} folder with the part models found (looked in {looked}). '
        'The models are code in the CLoPy-ROS source checkout, not in an installed rig: clone the repository '
        f'and run `clopy parts --models <checkout>/{MODELS_DIR}`, or set CLOPY_REPO=<checkout> '
        '(source <checkout>/scripts/env.sh sets it)')


def load_models(folder: Path) -> Any:
    """Import ``rig_parts`` from ``folder`` (the CAD library must be installed)."""
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(MODELS_PACKAGE)
    except ImportError as exc:
        raise PartsCommandError(
            f'{folder / MODELS_PACKAGE}: cannot import the models ({exc}); install the CAD libraries with '
            f'`{folder.parent / "scripts/setup.sh"} --tools` (or `pip install -r {folder.parent / REQUIREMENTS}`)') from exc


def parse_sets(items: list[str], parts: dict[str, Any]) -> dict[str, dict[str, float]]:
    """``PART.PARAM=VALUE`` items as {part: {param: value}}, checked against the parts' fields."""
    out: dict[str, dict[str, float]] = {}
    for item in items:
        key, sep, text = item.partition('=')
        part, dot, param = key.partition('.')
        if not sep or not dot:
            raise PartsCommandError(f'--set {item!r}: expected PART.PARAM=VALUE, '
                                    'e.g. MouseHeadFixPost.pillar_height_mm=60')
        if part not in parts:
            raise PartsCommandError(f'--set {item!r}: unknown part {part!r}; allowed: {", ".join(parts)}')
        fields = [f.name for f in dataclasses.fields(parts[part])]
        if param not in fields:
            raise PartsCommandError(f'--set {item!r}: {part} has no parameter {param!r}; allowed: {", ".join(fields)}')
        try:
            value = float(text)
        except ValueError:
            raise PartsCommandError(f'--set {item!r}: {text!r} is not a number') from None
        out.setdefault(part, {})[param] = value
    return out


def add_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser('parts', help='write the printable rig parts (STL, STEP, DXF, preview PNG; docs/parts.md)',
                       description=__doc__.split('\n\n')[0])
    p.add_argument('--out', type=Path, default=Path('parts'), metavar='DIR', help='output folder (default: ./parts)')
    p.add_argument('--only', default='', metavar='NAME,...', help='write only these parts (see --list)')
    p.add_argument('--set', dest='sets', action='append', default=[], metavar='PART.PARAM=VALUE',
                   help='change a dimension, e.g. MouseHeadFixPost.pillar_height_mm=60 (repeatable)')
    p.add_argument('--list', action='store_true', help='list the parts and their parameters, write nothing')
    p.add_argument('--models', type=Path, metavar='DIR', help=f'the checkout\'s {MODELS_DIR} folder (default: found)')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        models = load_models(find_models(args.models))
        parts = models.PARTS
        if args.list:
            for name, spec in parts.items():
                print(f'{name}: {spec.description}')
                print('    ' + ', '.join(f'{k}={v:g}' for k, v in spec.parameters().items()))
            return 0
        overrides = parse_sets(args.sets, parts)
        only = [n for n in args.only.split(',') if n]
        print(f'writing parts from {models.__file__.rsplit("/", 2)[0]} into {args.out}')
        files = models.generate(args.out, only, progress=lambda line: print(line, flush=True), overrides=overrides)
    except PartsCommandError as exc:
        print(f'clopy parts: {exc}', file=sys.stderr)
        return 2
    except ValueError as exc:  # rig_parts.base.PartError: a parameter that cannot make the part
        print(f'clopy parts: {exc}', file=sys.stderr)
        return 2
    print(f'wrote {len(files)} part(s) into {args.out.resolve()}')
    return 0
