"""Regions of interest (ROIs) in image pixels, built from config strings.

A ROI spec is either

* an atlas region with side, e.g. ``'M1_L'``: a square box of
  ``round(roi_size_mm * px_per_mm)`` px (0.3 mm -> 8 px at 25.6 px/mm) whose
  top-left corner is the atlas centre minus ``size // 2`` (the original's
  centre - 4 px), or
* an explicit rectangle ``'name=row,col,height,width'`` in pixels, e.g.
  ``'spot=100,120,10,12'``.

ROI names double as variable names in control rules (see ``rule.py``), so they
must look like identifiers: a letter or underscore, then letters, digits or
underscores.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .atlas import seed_centre_px
from .errors import ConfigError

__all__ = ['ConfigError', 'Roi', 'roi_size_px', 'rois_from_config']


_NAME_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_]*\Z')


@dataclass(frozen=True)
class Roi:
    """Axis-aligned pixel box.

    Attributes:
        name: identifier used in rules and output columns, e.g. ``'M1_L'``.
        row_px: top row (inclusive), px.
        col_px: left column (inclusive), px.
        height_px: number of rows, px (> 0).
        width_px: number of columns, px (> 0).
    """

    name: str
    row_px: int
    col_px: int
    height_px: int
    width_px: int

    @property
    def rows(self) -> slice:
        """Row slice for indexing an image array of shape (H, W[, C])."""
        return slice(self.row_px, self.row_px + self.height_px)

    @property
    def cols(self) -> slice:
        """Column slice for indexing an image array of shape (H, W[, C])."""
        return slice(self.col_px, self.col_px + self.width_px)

    @property
    def n_pixels(self) -> int:
        """Number of pixels in the box."""
        return self.height_px * self.width_px

    def box_str(self) -> str:
        """Human-readable box for error messages."""
        return (f'rows {self.row_px}..{self.row_px + self.height_px - 1}, '
                f'cols {self.col_px}..{self.col_px + self.width_px - 1}')

    def fits(self, frame_height_px: int, frame_width_px: int) -> bool:
        """True when the whole box lies inside a frame of the given size."""
        return (self.row_px >= 0 and self.col_px >= 0
                and self.row_px + self.height_px <= frame_height_px
                and self.col_px + self.width_px <= frame_width_px)


def roi_size_px(roi_size_mm: float, px_per_mm: float) -> int:
    """Side of an atlas ROI box in px: ``round(roi_size_mm * px_per_mm)``.

    Raises:
        ConfigError: the result is smaller than 1 px.
    """
    size_px = int(round(roi_size_mm * px_per_mm))
    if size_px < 1:
        raise ConfigError(
            f'roi_size_mm={roi_size_mm!r} at px_per_mm={px_per_mm!r} gives a '
            f'{size_px} px box; the ROI must be at least 1 px wide')
    return size_px


def _parse_rectangle(spec: str) -> Roi:
    """Parse ``'name=row,col,height,width'`` (all integers, px)."""
    name, _, numbers = spec.partition('=')
    name = name.strip()
    if not _NAME_RE.match(name):
        raise ConfigError(
            f'ROI spec {spec!r}: name {name!r} is not allowed; use a letter or '
            f'underscore followed by letters, digits or underscores')
    fields = [f.strip() for f in numbers.split(',')]
    if len(fields) != 4:
        raise ConfigError(
            f'ROI spec {spec!r}: expected name=row,col,height,width '
            f'(4 integers in px), got {len(fields)} value(s)')
    try:
        row, col, height, width = (int(f) for f in fields)
    except ValueError:
        raise ConfigError(
            f'ROI spec {spec!r}: row,col,height,width must be integers in px, '
            f'got {numbers.strip()!r}') from None
    if height < 1 or width < 1:
        raise ConfigError(
            f'ROI {name!r}: height_px={height} and width_px={width} must both '
            f'be positive')
    return Roi(name, row, col, height, width)


def rois_from_config(specs: list[str], frame_height_px: int,
                     frame_width_px: int, bregma_row_px: float = 135,
                     bregma_col_px: float = 128, px_per_mm: float = 25.6,
                     roi_size_mm: float = 0.3) -> list[Roi]:
    """Build and validate ROIs from config strings.

    Args:
        specs: atlas names with side (``'M1_L'``) or explicit rectangles
            (``'name=row,col,height,width'``, px). Order is kept.
        frame_height_px, frame_width_px: size of the frames the ROIs apply to.
        bregma_row_px, bregma_col_px: bregma position in the frame, px.
        px_per_mm: image scale.
        roi_size_mm: side of an atlas ROI box, mm.

    Returns:
        One ``Roi`` per spec, in the same order.

    Raises:
        ConfigError: unknown atlas name, malformed rectangle, non-positive size,
            duplicate name, box not fully inside the frame, or empty list.
    """
    # Imported here: atlas.py imports ConfigError from this module.

    if isinstance(specs, str):
        # A bare string would otherwise be iterated character by character.
        specs = [specs]
    if not specs:
        raise ConfigError('rois: at least one ROI spec is required, got none')
    if frame_height_px < 1 or frame_width_px < 1:
        raise ConfigError(
            f'frame size {frame_height_px}x{frame_width_px} px (HxW) must be '
            f'positive')
    if not px_per_mm > 0:
        raise ConfigError(f'px_per_mm={px_per_mm!r} must be > 0')

    rois: list[Roi] = []
    seen: set[str] = set()
    for raw in specs:
        if not isinstance(raw, str):
            raise ConfigError(
                f'ROI spec {raw!r} must be a string: an atlas name such as '
                f"'M1_L' or 'name=row,col,height,width'")
        spec = raw.strip()
        if '=' in spec:
            roi = _parse_rectangle(spec)
        else:
            size_px = roi_size_px(roi_size_mm, px_per_mm)
            x_col, y_row = seed_centre_px(spec, bregma_row_px, bregma_col_px,
                                          px_per_mm)
            half = size_px // 2
            roi = Roi(spec, y_row - half, x_col - half, size_px, size_px)
        if roi.name in seen:
            raise ConfigError(
                f'ROI name {roi.name!r} appears more than once; ROI names must '
                f'be unique')
        if not roi.fits(frame_height_px, frame_width_px):
            raise ConfigError(
                f'ROI {roi.name!r} ({roi.box_str()}) is not fully inside the '
                f'{frame_height_px}x{frame_width_px} px (HxW) frame')
        seen.add(roi.name)
        rois.append(roi)
    return rois
