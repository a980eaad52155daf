"""The printable rig parts (3D-print/rig_parts, `clopy parts`): every part written by
the command as a user runs it, every file loaded back by an independent reader
(trimesh for STL, ezdxf for DXF), and the key dimensions checked against numbers
worked out by hand from the documented defaults (docs/parts.md)."""
from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
from pathlib import Path

import ezdxf
import pytest
import trimesh
from ezdxf import bbox

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / '3D-print'))

import rig_parts  # noqa: E402
from rig_parts.base import PartError  # noqa: E402

from clopy.parts_command import PartsCommandError, find_models  # noqa: E402

# overall size (x, y, z) of each part with its default parameters, worked out by hand
DEFAULT_SIZES_MM = {
    'MouseHeadFixPost': (50.0, 25.0, 6.0 + 50.0),  # base; base plate + pillar
    'MouseHeadFixBottom': (30.0, 14.0, 8.0),
    'MouseHeadFixTop': (16.0, 14.0, 4.0),
    'MouseHeadFixBack': (90.0, 5.0, 40.0),
    'MirrorHolderFront': (12.0 + 12.0, 40.0, 35.0),  # flange + block
    'MirrorHolderRear': (12.0 + 12.0, 40.0, 35.0),
    'SpoutHolder': (45.0, 10.0, 8.0),
    'LightGuideHolder': (32.0, 20.0, 5.0 + 15.0),  # base + collar
    'LightFunnel': (42.0, 42.0, 25.0),  # flange diameter, height
    'MouseHolderSide': (80.0, 35.0, 3.0),
    'MouseEnclosureTop': (150.0, 110.0, 3.0),
}
FLAT = {'MouseHolderSide', 'MouseEnclosureTop'}
TOL_MM = 0.05


@pytest.fixture(scope='module')
def written(tmp_path_factory):
    """`clopy parts --out DIR` as a user runs it, finding the models from the installed
    module's resolved path (CLOPY_REPO unset), in a folder outside the checkout."""
    out = tmp_path_factory.mktemp('parts') / 'out'
    env = {k: v for k, v in os.environ.items() if k != 'CLOPY_REPO'}
    proc = subprocess.run([sys.executable, '-m', 'clopy.cli', 'parts', '--out', str(out)], env=env,
                          cwd=out.parent, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, proc.stdout


def _stl(path: Path) -> trimesh.Trimesh:
    mesh = trimesh.load(path, force='mesh')
    assert isinstance(mesh, trimesh.Trimesh), path
    return mesh


def test_registry_has_the_rig_parts():
    assert set(rig_parts.PARTS) == set(DEFAULT_SIZES_MM)
    for name, spec in rig_parts.PARTS.items():
        assert spec.name == name
        assert spec.flat == (name in FLAT)
        assert all(k.endswith(('_mm', '_deg')) for k in spec.parameters()), name
        assert spec.envelope_mm() == pytest.approx(DEFAULT_SIZES_MM[name]), name


def test_command_reports_every_part(written):
    out, stdout = written
    lines = [ln for ln in stdout.splitlines() if ln.startswith('[')]
    assert len(lines) == len(DEFAULT_SIZES_MM), stdout
    for i, name in enumerate(rig_parts.PARTS, 1):
        assert lines[i - 1].startswith(f'[{i}/{len(DEFAULT_SIZES_MM)}] {name}: '), stdout
    assert f'wrote {len(DEFAULT_SIZES_MM)} part(s)' in stdout


@pytest.mark.parametrize('name', sorted(DEFAULT_SIZES_MM))
def test_stl_is_a_closed_solid_of_the_part_size(written, name):
    mesh = _stl(written[0] / f'{name}.stl')
    assert mesh.is_watertight, name
    assert mesh.is_winding_consistent, name
    assert mesh.volume > 0, name
    assert tuple(mesh.extents) == pytest.approx(DEFAULT_SIZES_MM[name], abs=TOL_MM), name
    # a part with holes is smaller than its bounding box
    assert mesh.volume < math.prod(DEFAULT_SIZES_MM[name]), name


@pytest.mark.parametrize('name', sorted(DEFAULT_SIZES_MM))
def test_step_and_preview_are_written(written, name):
    step = (written[0] / f'{name}.step').read_text(errors='replace')
    assert step.startswith('ISO-10303-21;'), name
    assert 'MANIFOLD_SOLID_BREP' in step and len(step) > 5000, name
    png = (written[0] / f'{name}.png').read_bytes()
    assert png.startswith(b'\x89PNG\r\n\x1a\n') and len(png) > 10000, name


@pytest.mark.parametrize('name', sorted(FLAT))
def test_dxf_of_flat_parts(written, name):
    doc = ezdxf.readfile(written[0] / f'{name}.dxf')
    msp = doc.modelspace()
    entities = list(msp)
    assert entities, name
    assert doc.header['$INSUNITS'] == 4  # millimetres
    box = bbox.extents(msp)
    x, y, _ = DEFAULT_SIZES_MM[name]
    assert (box.size.x, box.size.y) == pytest.approx((x, y), abs=TOL_MM), name
    # the outline plus the cut-outs: the window or opening and four corner holes
    circles = [e for e in entities if e.dxftype() == 'CIRCLE']
    assert len(circles) >= 4, name


def test_only_the_solid_parts_have_no_dxf(written):
    assert sorted(p.stem for p in written[0].glob('*.dxf')) == sorted(FLAT)


def test_volumes_match_the_drawing():
    """Volumes from the default dimensions by hand: blocks minus the holes (cylinders);
    the tessellated STL is a little larger than the exact solid (chords inside holes)."""
    post = (50 * 25 * 6 + 12 * 12 * 50 - 2 * math.pi * 3.3 ** 2 * 6 - math.pi * 1.25 ** 2 * 10
            - 2 * math.pi * 1.25 ** 2 * 8)
    bottom = (30 * 14 * 8 - 18 * 3.4 * 1.0 - math.pi * 1.7 ** 2 * (8 - 3.2) - math.pi * 3.0 ** 2 * 3.2
              - 2 * math.pi * 1.25 ** 2 * 8)
    for name, expected in (('MouseHeadFixPost', post), ('MouseHeadFixBottom', bottom)):
        assert rig_parts.PARTS[name].build().volume == pytest.approx(expected, rel=1e-6), name


def test_a_changed_parameter_changes_the_part(tmp_path):
    taller = dataclasses.replace(rig_parts.PARTS['MouseHeadFixPost'], pillar_height_mm=70.0)
    files = rig_parts.write_part(taller, tmp_path)
    assert tuple(_stl(files.stl).extents) == pytest.approx((50.0, 25.0, 76.0), abs=TOL_MM)
    default = rig_parts.PARTS['MouseHeadFixTop']
    wider = dataclasses.replace(default, screw_hole_diameter_mm=4.0)
    lost = default.build().volume - wider.build().volume
    assert lost == pytest.approx(2 * math.pi * (2.0 ** 2 - 1.7 ** 2) * 4.0, rel=1e-6)  # two through holes
    assert (dataclasses.replace(rig_parts.PARTS['MouseEnclosureTop'], length_mm=180.0).build()
            .bounding_box().size.X) == pytest.approx(180.0)


def test_set_option_changes_the_written_part(tmp_path):
    out = tmp_path / 'set'
    proc = subprocess.run([sys.executable, '-m', 'clopy.cli', 'parts', '--out', str(out), '--only', 'MouseHolderSide',
                           '--set', 'MouseHolderSide.length_mm=100'], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ['MouseHolderSide.dxf', 'MouseHolderSide.png',
                                                      'MouseHolderSide.step', 'MouseHolderSide.stl']
    assert _stl(out / 'MouseHolderSide.stl').extents[0] == pytest.approx(100.0, abs=TOL_MM)
    assert bbox.extents(ezdxf.readfile(out / 'MouseHolderSide.dxf').modelspace()).size.x == pytest.approx(100.0)


def test_bad_parameters_are_refused_with_the_part_and_value():
    with pytest.raises(PartError, match=r'MouseHeadFixTop: screw_offset_mm = 9\.0'):
        dataclasses.replace(rig_parts.PARTS['MouseHeadFixTop'], screw_offset_mm=9.0)
    with pytest.raises(PartError, match=r'SpoutHolder: arm_height_mm = -1\.0; allowed: a length > 0 mm'):
        dataclasses.replace(rig_parts.PARTS['SpoutHolder'], arm_height_mm=-1.0)
    with pytest.raises(PartError, match='unknown part.*Nope; allowed: MouseHeadFixPost'):
        rig_parts.generate(Path('unused'), ['Nope'])


def test_command_errors_say_what_to_do(tmp_path):
    proc = subprocess.run([sys.executable, '-m', 'clopy.cli', 'parts', '--out', str(tmp_path),
                           '--set', 'MouseHeadFixPost.no_such_mm=3'], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "MouseHeadFixPost has no parameter 'no_such_mm'; allowed: base_length_mm" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_models_found_from_env_or_module_path_else_a_clear_error(tmp_path):
    assert find_models() == (REPO / '3D-print').resolve()
    assert find_models(environ={'CLOPY_REPO': str(REPO)}, module_file=str(tmp_path / 'x.py')) == \
        (REPO / '3D-print').resolve()
    with pytest.raises(PartsCommandError,
                       match=r'no 3D-print/rig_parts folder.*clopy parts --models <checkout>/3D-print'):
        find_models(environ={}, module_file=str(tmp_path / 'site-packages' / 'clopy' / 'parts_command.py'))


def test_docs_list_every_parameter_with_its_default():
    text = (REPO / 'docs' / 'parts.md').read_text()
    for name, spec in rig_parts.PARTS.items():
        assert f'### {name}\n' in text, name
        assert f'](img/parts-{name}.png)' in text and (REPO / 'docs' / 'img' / f'parts-{name}.png').is_file(), name
        section = text.split(f'### {name}\n', 1)[1].split('\n### ', 1)[0]
        for field in dataclasses.fields(spec):
            assert f'| `{field.name}` | {getattr(spec, field.name):g} |' in section, (name, field.name)
