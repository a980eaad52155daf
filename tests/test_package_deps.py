"""The workspace's shape, checked from the source: every package.xml declares what its
code imports (project packages and third-party libraries), declares no project
package it does not import, arrows between packages point one way, and no package
imports another package's node module."""
from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / 'src'

# import name -> package.xml key (rosdep key for third-party libraries)
THIRD_PARTY = {
    'numpy': 'python3-numpy', 'yaml': 'python3-yaml', 'pandas': 'python3-pandas', 'scipy': 'python3-scipy',
    'matplotlib': 'python3-matplotlib', 'cv2': 'python3-opencv', 'h5py': 'python3-h5py',
    'tifffile': 'python3-tifffile', 'gpiozero': 'python3-gpiozero', 'smbus2': 'python3-smbus2', 'sounddevice': 'python3-sounddevice',
    'rosbags': 'python3-rosbags-pip', 'mcap': 'python3-mcap-pip', 'pingouin': 'python3-pingouin-pip',
    'picamera2': 'python3-picamera2', 'statsmodels': 'python3-statsmodels', 'gi': 'python3-gi',
    'pyfirmata2': 'python3-pyfirmata2-pip', 'serial': 'python3-serial',
    'rclpy': 'rclpy', 'sensor_msgs': 'sensor_msgs', 'std_msgs': 'std_msgs', 'rcl_interfaces': 'rcl_interfaces',
    'builtin_interfaces': 'builtin_interfaces', 'ament_index_python': 'ament_index_python',
    'launch': 'launch', 'launch_ros': 'launch_ros', 'composition_interfaces': 'composition_interfaces',
    'foxglove': 'python3-foxglove-sdk-pip',   # clopy_dashboard.foxglove (requirements/base.txt)
    'std_srvs': 'std_srvs', 'fastapi': 'python3-fastapi', 'pydantic': 'python3-pydantic', 'uvicorn': 'python3-uvicorn',
}
# optional extras, imported lazily where the extra is asked for (documented in docs/clmf.md)
OPTIONAL = {'dlclive', 'torch', 'torchvision', 'timm', 'onnxruntime', 'lgpio', 'RPi', 'pigpio', 'statsmodels'}


def packages() -> dict[str, Path]:
    return {p.parent.name: p.parent for p in sorted(SRC.glob('*/package.xml'))}


PACKAGES = packages()


def declared(pkg_dir: Path) -> set[str]:
    root = ET.parse(pkg_dir / 'package.xml').getroot()
    return {e.text.strip() for e in root if e.tag in ('depend', 'exec_depend', 'build_export_depend') and e.text}


def source_files(pkg_dir: Path) -> list[Path]:
    return [p for p in pkg_dir.rglob('*.py')
            if 'test' not in p.relative_to(pkg_dir).parts[:1] and p.name != 'setup.py']


def imports(path: Path) -> set[str]:
    """Dotted module names imported anywhere in the file (lazy imports included)."""
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f'{node.module}.{a.name}' for a in node.names)
    return found


def python_packages_of(pkg_dir: Path) -> set[str]:
    return {p.parent.name for p in pkg_dir.glob('*/__init__.py')}


OWNER = {mod: name for name, d in PACKAGES.items() for mod in python_packages_of(d)}
OWNER.update({'clopy_interfaces': 'clopy_interfaces'})


def package_imports(name: str) -> dict[str, set[str]]:
    """top-level import name -> files, for the package's non-test code."""
    d = PACKAGES[name]
    own = python_packages_of(d)
    result: dict[str, set[str]] = {}
    for f in source_files(d):
        for mod in imports(f):
            top = mod.split('.')[0]
            if top in own or top in sys.stdlib_module_names or top == '__future__':
                continue
            result.setdefault(top, set()).add(str(f.relative_to(SRC)))
    return result


@pytest.mark.parametrize('name', [n for n in PACKAGES if n != 'clopy_interfaces'])
def test_package_xml_declares_what_the_code_imports(name):
    have = declared(PACKAGES[name])
    missing, unknown = [], []
    for top, files in sorted(package_imports(name).items()):
        if top in OPTIONAL:
            continue
        key = OWNER.get(top) or THIRD_PARTY.get(top)
        if key is None:
            unknown.append(f'{top} ({sorted(files)[0]})')
        elif key not in have:
            missing.append(f'{key} (import {top} in {sorted(files)[0]})')
    assert not unknown, f'{name}: imports with no known package key: {unknown}'
    assert not missing, f'{name}/package.xml lacks <exec_depend> for: {missing}'
    project_deps = {d for d in have if d in PACKAGES}
    imported_projects = {OWNER[t] for t in package_imports(name) if t in OWNER}
    started = {d for d in project_deps if any(f"'{d}'" in f.read_text(encoding='utf-8')
                                              for f in source_files(PACKAGES[name]))}  # runs its executables
    stale = sorted(project_deps - imported_projects - started - {'clopy_interfaces'})
    assert not stale, f'{name}/package.xml declares project packages its code neither imports nor starts: {stale}'


def find_cycle(edges: dict[str, set[str]]) -> list[str]:
    """A cycle in a directed graph, as the path that closes it ([] when there is none)."""
    state: dict[str, int] = {}   # 1: on the current path, 2: done

    def visit(n: str, path: list[str]) -> list[str]:
        state[n] = 1
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return path + [n, m]
            if m not in state:
                found = visit(m, path + [n])
                if found:
                    return found
        state[n] = 2
        return []

    for n in sorted(edges):
        if n not in state:
            found = visit(n, [])
            if found:
                return found
    return []


def test_find_cycle_finds_one_and_only_one():
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': set()}) == []
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']


def test_arrows_between_packages_point_one_way():
    edges = {name: {OWNER[t] for t in package_imports(name) if t in OWNER} - {name} for name in PACKAGES}
    cycle = find_cycle(edges)
    assert not cycle, 'import cycle between packages: ' + ' -> '.join(cycle)


def test_no_package_imports_another_packages_node_module():
    offenders = []
    for name, d in PACKAGES.items():
        own = python_packages_of(d)
        for f in source_files(d):
            for mod in imports(f):
                parts = mod.split('.')
                if parts[0] in OWNER and parts[0] not in own and len(parts) > 1 and parts[1].endswith('_node'):
                    offenders.append(f'{f.relative_to(SRC)} imports {mod}')
    assert not offenders, offenders


def test_no_import_circle_inside_a_package():
    for name, d in PACKAGES.items():
        for top in python_packages_of(d):
            modules = {p.stem: p for p in (d / top).glob('*.py')}
            edges = {}
            for stem, f in modules.items():
                tree = ast.parse(f.read_text(encoding='utf-8'))
                deps = set()
                for node in ast.walk(tree):
                    if isinstance(node, ast.ImportFrom):
                        if node.level == 1 and node.module:
                            deps.add(node.module.split('.')[0])
                        elif node.level == 1:
                            deps.update(a.name for a in node.names)
                        elif node.level == 0 and node.module and node.module.split('.')[0] == top:
                            rest = node.module.split('.')[1:]
                            deps.update(rest[:1] or [a.name for a in node.names])
                    elif isinstance(node, ast.Import):
                        for a in node.names:
                            parts = a.name.split('.')
                            if parts[0] == top and len(parts) > 1:
                                deps.add(parts[1])
                edges[stem] = {m for m in deps if m in modules and m != stem}
            cycle = find_cycle(edges)
            assert not cycle, f'{top}: import circle ' + ' -> '.join(cycle)
