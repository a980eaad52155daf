"""Shared pieces of the part models: the part protocol and the solids every part
uses (blocks and holes placed by their minimum corner or centre)."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from build123d import Align, Box, Cylinder, Part, Pos, Rot

MIN = (Align.MIN, Align.MIN, Align.MIN)
CENTRE_BOTTOM = (Align.CENTER, Align.CENTER, Align.MIN)

#: ISO metric clearance (medium fit) and tap-drill diameters used for screw holes
M3_CLEARANCE_MM = 3.4
M3_TAP_MM = 2.5
M6_CLEARANCE_MM = 6.6


class PartError(ValueError):
    """A parameter value that cannot make the part: names the part, the parameter and the value."""


@dataclasses.dataclass(frozen=True)
class PartSpec:
    """Base of every part: ``name`` (the file stem), ``flat`` (also written as DXF)."""

    name: ClassVar[str] = ''
    flat: ClassVar[bool] = False
    description: ClassVar[str] = ''

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name.endswith('_mm') and not value > 0:
                raise PartError(f'{self.name}: {field.name} = {value!r}; allowed: a length > 0 mm')
        self.check()

    def check(self) -> None:
        """Relations between parameters (a hole inside its block); raise PartError."""

    def build(self) -> Part:
        raise NotImplementedError

    def envelope_mm(self) -> tuple[float, float, float]:
        """Bounding box size (x, y, z) of the part, from the parameters."""
        raise NotImplementedError

    def parameters(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def require(self, ok: bool, text: str) -> None:
        if not ok:
            raise PartError(f'{self.name}: {text}')


def block(x_mm: float, y_mm: float, z_mm: float, at: tuple[float, float, float] = (0, 0, 0)) -> Part:
    """A box with its minimum corner at ``at``."""
    return Pos(*at) * Box(x_mm, y_mm, z_mm, align=MIN)


def hole_z(diameter_mm: float, x_mm: float, y_mm: float, z0_mm: float, depth_mm: float) -> Part:
    """A vertical cylinder (a hole to subtract) from z0 upwards."""
    return Pos(x_mm, y_mm, z0_mm) * Cylinder(diameter_mm / 2, depth_mm, align=CENTRE_BOTTOM)


def hole_x(diameter_mm: float, y_mm: float, z_mm: float, x0_mm: float, length_mm: float) -> Part:
    """A cylinder along +x from x0 (a bore to subtract)."""
    return Pos(x0_mm, y_mm, z_mm) * Rot(0, 90, 0) * Cylinder(diameter_mm / 2, length_mm, align=CENTRE_BOTTOM)


def hole_y(diameter_mm: float, x_mm: float, z_mm: float, y0_mm: float, length_mm: float) -> Part:
    """A cylinder along +y from y0 (a bore to subtract)."""
    return Pos(x_mm, y0_mm, z_mm) * Rot(-90, 0, 0) * Cylinder(diameter_mm / 2, length_mm, align=CENTRE_BOTTOM)
