"""Laser-cut panels (3-mm acrylic): each is a 2-D profile, written as DXF for the
cutter and extruded to its thickness for STL/STEP and the preview."""
from __future__ import annotations

import dataclasses

from build123d import Align, Circle, Part, Pos, RectangleRounded, Sketch, extrude

from rig_parts.base import M3_CLEARANCE_MM, PartSpec

MIN2 = (Align.MIN, Align.MIN)


class FlatPart(PartSpec):
    """A panel: ``profile()`` in the xy plane from (0, 0), extruded by ``thickness_mm``."""

    flat = True
    thickness_mm: float

    def profile(self) -> Sketch:
        raise NotImplementedError

    def build(self) -> Part:
        return extrude(self.profile(), self.thickness_mm)

    @staticmethod
    def corner_holes(length_mm: float, width_mm: float, inset_mm: float, diameter_mm: float) -> Sketch:
        holes = [Pos(x, y) * Circle(diameter_mm / 2) for x in (inset_mm, length_mm - inset_mm)
                 for y in (inset_mm, width_mm - inset_mm)]
        return sum(holes[1:], holes[0])


@dataclasses.dataclass(frozen=True)
class MouseHolderSide(FlatPart):
    """Side panel of the mouse's body holder: a window at the front gives the side
    camera its view of the forelimbs; M3 holes at the corners join it to the floor."""

    name = 'MouseHolderSide'
    description = 'laser-cut side panel of the body holder, with the camera window'
    length_mm: float = 80.0
    height_mm: float = 35.0
    thickness_mm: float = 3.0
    corner_radius_mm: float = 3.0
    window_length_mm: float = 36.0
    window_height_mm: float = 16.0
    window_front_offset_mm: float = 10.0  # from the front edge (x = 0)
    window_bottom_offset_mm: float = 8.0
    hole_diameter_mm: float = M3_CLEARANCE_MM
    hole_inset_mm: float = 4.0

    def check(self) -> None:
        self.require(self.window_front_offset_mm + self.window_length_mm < self.length_mm - 2 * self.hole_inset_mm,
                     'the window must end before the rear holes')
        self.require(self.window_bottom_offset_mm + self.window_height_mm < self.height_mm - 2,
                     'the window must leave 2 mm at the top')
        self.require(self.window_bottom_offset_mm > self.hole_inset_mm + self.hole_diameter_mm / 2,
                     'window_bottom_offset_mm must clear the bottom holes')
        self.require(2 * self.corner_radius_mm < min(self.length_mm, self.height_mm), 'corner_radius_mm too large')

    def envelope_mm(self) -> tuple[float, float, float]:
        return self.length_mm, self.height_mm, self.thickness_mm

    def profile(self) -> Sketch:
        panel = RectangleRounded(self.length_mm, self.height_mm, self.corner_radius_mm, align=MIN2)
        window = Pos(self.window_front_offset_mm, self.window_bottom_offset_mm) * RectangleRounded(
            self.window_length_mm, self.window_height_mm, min(4.0, self.window_height_mm / 2.5), align=MIN2)
        return panel - window - self.corner_holes(self.length_mm, self.height_mm, self.hole_inset_mm,
                                                  self.hole_diameter_mm)


@dataclasses.dataclass(frozen=True)
class MouseEnclosureTop(FlatPart):
    """Top panel of the sound- and light-tight enclosure: an opening over the head for
    the imaging path (camera or light funnel), a cable hole and M3 corner holes."""

    name = 'MouseEnclosureTop'
    description = 'laser-cut top panel of the enclosure, with the imaging opening'
    length_mm: float = 150.0
    width_mm: float = 110.0
    thickness_mm: float = 3.0
    corner_radius_mm: float = 5.0
    opening_length_mm: float = 44.0
    opening_width_mm: float = 44.0
    opening_centre_x_mm: float = 50.0
    cable_hole_diameter_mm: float = 10.0
    hole_diameter_mm: float = M3_CLEARANCE_MM
    hole_inset_mm: float = 6.0

    def check(self) -> None:
        self.require(self.opening_centre_x_mm - self.opening_length_mm / 2 > 2 * self.hole_inset_mm,
                     f'opening_centre_x_mm = {self.opening_centre_x_mm}: the opening reaches the front holes')
        self.require(self.opening_centre_x_mm + self.opening_length_mm / 2 + self.cable_hole_diameter_mm + 4
                     < self.length_mm - 2 * self.hole_inset_mm, 'the opening leaves no room for the cable hole')
        self.require(self.opening_width_mm < self.width_mm - 4 * self.hole_inset_mm,
                     'opening_width_mm must clear the corner holes')

    def envelope_mm(self) -> tuple[float, float, float]:
        return self.length_mm, self.width_mm, self.thickness_mm

    def profile(self) -> Sketch:
        panel = RectangleRounded(self.length_mm, self.width_mm, self.corner_radius_mm, align=MIN2)
        opening = Pos(self.opening_centre_x_mm, self.width_mm / 2) * RectangleRounded(
            self.opening_length_mm, self.opening_width_mm, 4.0)
        cable_x = (self.opening_centre_x_mm + self.opening_length_mm / 2 + self.length_mm - 2 * self.hole_inset_mm) / 2
        cable = Pos(cable_x, self.width_mm / 2) * Circle(self.cable_hole_diameter_mm / 2)
        return panel - opening - cable - self.corner_holes(self.length_mm, self.width_mm, self.hole_inset_mm,
                                                           self.hole_diameter_mm)
