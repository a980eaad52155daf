"""Dorsal-cortex atlas seeds and their pixel centres.

The seeds are the original CLoPy's region centres, given as (ML, AP) offsets in
millimetres from bregma (ML >= 0; the side is chosen by the ``_L`` / ``_R``
suffix of a region name). Pixel centres follow the original's arithmetic,
including its ``int()`` truncation, so ROIs land on exactly the same pixels as
in recordings made with the original program.
"""
from __future__ import annotations

from .errors import ConfigError

#: Seed name -> (ML_mm, AP_mm) from bregma, exactly as in the original CLoPy.
SEEDS_MM: dict[str, tuple[float, float]] = {
    'ALM': (1.5, 2.5),
    'M1': (1.8603, 0.64181),
    'M2': (0.87002, 1.4205),
    'M1FL_1': (2.2, -0.4),
    'FL': (2.4526, -0.5668),
    'CFL': (1.5, 0.25),
    'RFL': (1.25, 2.0),
    'HL': (1.6942, -1.1457),
    'UN': (2.7979, -0.97112),
    'BC': (3.4569, -1.727),
    'TR': (1.8644, -2.0204),
    'RL': (3.1712, -2.849),
    'A': (2.2932, -2.4962),
    'AM': (1.6479, -2.696),
    'PM': (1.6217, -3.6247),
    'V1': (2.5168, -3.7678),
    'RS': (0.62043, -2.8858),
    'ANT': (0.0, 3.525),
    'LAMBDA': (0.0, -3.9),
    'STROKE': (1.5, 0.5),
}

#: Allowed side suffixes: left hemisphere is towards smaller column indices.
SIDES: tuple[str, ...] = ('L', 'R')


def atlas_region_names() -> list[str]:
    """All valid region names with side, e.g. ``['ALM_L', 'ALM_R', ...]``."""
    return [f'{seed}_{side}' for seed in SEEDS_MM for side in SIDES]


def split_region_name(name_with_side: str) -> tuple[str, str]:
    """Split ``'M1FL_1_L'`` into ``('M1FL_1', 'L')``.

    Raises:
        ConfigError: the name has no ``_L``/``_R`` suffix or the seed is unknown.
    """
    seed, sep, side = name_with_side.rpartition('_')
    if not sep or side not in SIDES or seed not in SEEDS_MM:
        raise ConfigError(
            f'unknown atlas region {name_with_side!r}: expected <seed>_L or '
            f'<seed>_R with seed one of {sorted(SEEDS_MM)}')
    return seed, side


def is_atlas_region(name_with_side: str) -> bool:
    """True when ``name_with_side`` names an atlas seed with a side suffix."""
    try:
        split_region_name(name_with_side)
    except ConfigError:
        return False
    return True


def seed_centre_px(name_with_side: str, bregma_row: float, bregma_col: float,
                   px_per_mm: float) -> tuple[int, int]:
    """Pixel centre of an atlas region, as the original CLoPy computes it.

    Args:
        name_with_side: seed name plus side, e.g. ``'M1_L'``, ``'BC_R'``.
        bregma_row: bregma row in the image (px; 135 in the original).
        bregma_col: bregma column in the image (px; 128 in the original).
        px_per_mm: image scale (25.6 px/mm in the original 10 mm field).

    Returns:
        ``(x_col, y_row)`` in px, each truncated towards zero with ``int()``
        like the original (not rounded: M1_R is at column 175, not 176).
    """
    seed, side = split_region_name(name_with_side)
    ml_mm, ap_mm = SEEDS_MM[seed]
    # Left hemisphere is drawn on the image's left (smaller column index).
    if side == 'L':
        x = bregma_col - px_per_mm * ml_mm
    else:
        x = bregma_col + px_per_mm * ml_mm
    # Anterior is up in the image, so positive AP means a smaller row index.
    y = bregma_row - px_per_mm * ap_mm
    return int(x), int(y)
