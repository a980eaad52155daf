"""Writing the parts: STL (printing), STEP (CAD exchange), DXF (laser cutting, flat
parts only) and a preview PNG drawn with matplotlib from the tessellated solid."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from build123d import ExportDXF, Part, Unit, export_step, export_stl

from rig_parts.base import PartError, PartSpec

#: fixed STEP header time so the same parameters give the same file
STEP_TIMESTAMP = '2026-01-01T00:00:00'
STL_TOLERANCE_MM = 0.01
VIEW_ELEV_DEG, VIEW_AZIM_DEG = 28.0, -58.0
LIGHT = np.array([0.4, -0.6, 0.7]) / np.linalg.norm([0.4, -0.6, 0.7])


@dataclasses.dataclass(frozen=True)
class GeneratedFiles:
    name: str
    stl: Path
    step: Path
    png: Path
    dxf: Path | None
    size_mm: tuple[float, float, float]


def write_part(spec: PartSpec, out_dir: Path) -> GeneratedFiles:
    """Build one part and write its files into ``out_dir`` (created)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    solid = spec.build()
    if not solid.is_valid:
        raise PartError(f'{spec.name}: the parameters {spec.parameters()} give an invalid solid')
    stem = out_dir / spec.name
    stl, step, png = stem.with_suffix('.stl'), stem.with_suffix('.step'), stem.with_suffix('.png')
    if not export_stl(solid, stl, tolerance=STL_TOLERANCE_MM, angular_tolerance=0.2):
        raise PartError(f'{spec.name}: writing {stl} failed')
    if not export_step(solid, step, unit=Unit.MM, timestamp=STEP_TIMESTAMP):
        raise PartError(f'{spec.name}: writing {step} failed')
    dxf = None
    if spec.flat:
        dxf = stem.with_suffix('.dxf')
        exporter = ExportDXF(unit=Unit.MM)
        exporter.add_layer('CUT')
        exporter.add_shape(spec.profile(), layer='CUT')
        exporter.write(dxf)
    size = solid.bounding_box().size
    draw_preview(solid, png, f'{spec.name}  ({size.X:.1f} x {size.Y:.1f} x {size.Z:.1f} mm)')
    return GeneratedFiles(spec.name, stl, step, png, dxf, (size.X, size.Y, size.Z))


def draw_preview(solid: Part, path: Path, title: str) -> None:
    """A shaded isometric view of the solid (Agg, no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection
    vertices, triangles = solid.tessellate(0.05, 0.3)
    v = np.array([(p.X, p.Y, p.Z) for p in vertices])
    tri = v[np.asarray(triangles)]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = normals / np.where(length > 0, length, 1.0)
    elev, azim = np.radians(VIEW_ELEV_DEG), np.radians(VIEW_AZIM_DEG)
    eye = np.array([np.cos(elev) * np.cos(azim), np.cos(elev) * np.sin(azim), np.sin(elev)])
    facing = normals @ eye > 0  # a closed solid: faces turned away are hidden anyway
    tri, normals = tri[facing], normals[facing]
    shade = 0.35 + 0.6 * np.clip(normals @ LIGHT, 0.0, 1.0)
    colours = np.column_stack([0.30 * shade + 0.1, 0.55 * shade + 0.1, 0.85 * shade + 0.1, np.ones_like(shade)])
    fig = Figure(figsize=(4.8, 4.0), layout='constrained')
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(projection='3d')
    ax.add_collection3d(Poly3DCollection(tri, facecolors=np.clip(colours, 0, 1), edgecolor='none', linewidth=0,
                                         antialiased=False))
    lo, hi = v.min(axis=0), v.max(axis=0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-3)
    for setter, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), centre):
        setter(c - half, c + half)
    ax.set_box_aspect((1, 1, 1))
    ax.view_init(elev=VIEW_ELEV_DEG, azim=VIEW_AZIM_DEG)
    ax.set_xlabel('x (mm)', fontsize=7)
    ax.set_ylabel('y (mm)', fontsize=7)
    ax.set_zlabel('z (mm)', fontsize=7)
    ax.tick_params(labelsize=6)
    ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=100)


def select(parts: dict[str, PartSpec], only: Sequence[str] | None) -> list[PartSpec]:
    """The parts named in ``only`` (all when empty), in the registry's order."""
    if not only:
        return list(parts.values())
    unknown = [n for n in only if n not in parts]
    if unknown:
        raise PartError(f'unknown part(s) {", ".join(unknown)}; allowed: {", ".join(parts)}')
    return [p for name, p in parts.items() if name in only]


def generate(out_dir: Path, only: Iterable[str] | None = None, progress: Callable[[str], None] = print,
             overrides: dict[str, dict[str, float]] | None = None) -> list[GeneratedFiles]:
    """Write every part (or those named in ``only``) into ``out_dir``, with ``overrides``
    {part: {parameter: value}} applied to the defaults; report each part via ``progress``."""
    from rig_parts import PARTS
    chosen = [dataclasses.replace(spec, **(overrides or {}).get(spec.name, {}))
              for spec in select(PARTS, list(only or []))]
    written = []
    for i, spec in enumerate(chosen, 1):
        files = write_part(spec, Path(out_dir))
        kinds = 'STL, STEP, PNG' + (', DXF' if files.dxf else '')
        x, y, z = files.size_mm
        progress(f'[{i}/{len(chosen)}] {spec.name}: {x:.1f} x {y:.1f} x {z:.1f} mm -> {kinds}')
        written.append(files)
    return written
