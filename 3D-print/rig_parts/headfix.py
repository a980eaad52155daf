"""Head fixation: two posts (left and right of the head) on the breadboard, a clamp
on each (bottom jaw with a groove for the implanted head bar, top jaw screwed down
on it) and a back plate that ties the posts together.

Axes: x along the head bar (the mouse's left-right), y front-back, z up.
"""
from __future__ import annotations

import dataclasses

from build123d import Part

from rig_parts.base import M3_CLEARANCE_MM, M3_TAP_MM, M6_CLEARANCE_MM, PartSpec, block, hole_y, hole_z


@dataclasses.dataclass(frozen=True)
class MouseHeadFixPost(PartSpec):
    """A pillar on a base plate bolted to a 25-mm M6 breadboard; the bottom jaw is
    screwed onto its top, the back plate onto its back face."""

    name = 'MouseHeadFixPost'
    description = 'pillar on a breadboard base; carries a head-bar clamp'
    base_length_mm: float = 50.0
    base_width_mm: float = 25.0
    base_thickness_mm: float = 6.0
    pillar_length_mm: float = 12.0
    pillar_width_mm: float = 12.0
    pillar_height_mm: float = 50.0
    base_hole_pitch_mm: float = 25.0  # breadboard grid
    base_hole_diameter_mm: float = M6_CLEARANCE_MM
    top_hole_diameter_mm: float = M3_TAP_MM
    top_hole_depth_mm: float = 10.0
    back_hole_diameter_mm: float = M3_TAP_MM
    back_hole_spacing_mm: float = 20.0
    back_hole_top_offset_mm: float = 16.0  # below the top hole

    def check(self) -> None:
        self.require(self.pillar_length_mm <= self.base_length_mm and self.pillar_width_mm <= self.base_width_mm,
                     'the pillar must fit on the base (pillar_*_mm <= base_*_mm)')
        gap = (self.base_hole_pitch_mm - self.base_hole_diameter_mm - self.pillar_length_mm) / 2
        self.require(gap > 0, f'base_hole_pitch_mm = {self.base_hole_pitch_mm}: the base holes cut into the pillar')
        self.require(self.base_hole_pitch_mm + self.base_hole_diameter_mm < self.base_length_mm,
                     f'base_hole_pitch_mm = {self.base_hole_pitch_mm}: the base holes leave the base')
        self.require(self.back_hole_top_offset_mm > self.top_hole_depth_mm + self.back_hole_diameter_mm,
                     f'back_hole_top_offset_mm = {self.back_hole_top_offset_mm}: the back hole meets the top hole')
        self.require(self.back_hole_top_offset_mm + self.back_hole_spacing_mm < self.pillar_height_mm,
                     'the back holes must lie on the pillar (offset + spacing < pillar_height_mm)')

    def envelope_mm(self) -> tuple[float, float, float]:
        return self.base_length_mm, self.base_width_mm, self.base_thickness_mm + self.pillar_height_mm

    def build(self) -> Part:
        cx, cy = self.base_length_mm / 2, self.base_width_mm / 2
        top_z = self.base_thickness_mm + self.pillar_height_mm
        part = block(self.base_length_mm, self.base_width_mm, self.base_thickness_mm)
        part += block(self.pillar_length_mm, self.pillar_width_mm, self.pillar_height_mm,
                      (cx - self.pillar_length_mm / 2, cy - self.pillar_width_mm / 2, self.base_thickness_mm))
        for sign in (-1, 1):
            part -= hole_z(self.base_hole_diameter_mm, cx + sign * self.base_hole_pitch_mm / 2, cy, 0,
                           self.base_thickness_mm)
        part -= hole_z(self.top_hole_diameter_mm, cx, cy, top_z - self.top_hole_depth_mm, self.top_hole_depth_mm)
        back_y = cy + self.pillar_width_mm / 2
        for k in range(2):
            z = top_z - self.back_hole_top_offset_mm - k * self.back_hole_spacing_mm
            part -= hole_y(self.back_hole_diameter_mm, cx, z, back_y - 8.0, 8.0)
        return part


@dataclasses.dataclass(frozen=True)
class MouseHeadFixBottom(PartSpec):
    """Bottom jaw of the head-bar clamp: one end sits on the post (counterbored M3
    screw), the other has a groove the head bar lies in and two tapped holes for the
    top jaw."""

    name = 'MouseHeadFixBottom'
    description = 'bottom jaw of the head-bar clamp, with the head-bar groove'
    jaw_length_mm: float = 30.0
    jaw_width_mm: float = 14.0
    jaw_height_mm: float = 8.0
    groove_width_mm: float = 3.4  # head bar 3.2 mm wide + clearance
    groove_depth_mm: float = 1.0  # less than the bar's thickness so the top jaw presses on it
    groove_start_mm: float = 12.0
    mount_hole_x_mm: float = 6.0
    mount_hole_diameter_mm: float = M3_CLEARANCE_MM
    counterbore_diameter_mm: float = 6.0
    counterbore_depth_mm: float = 3.2
    clamp_screw_x_mm: float = 21.0
    clamp_screw_offset_mm: float = 4.5  # from the groove's centre line
    clamp_screw_diameter_mm: float = M3_TAP_MM

    def check(self) -> None:
        self.require(self.groove_depth_mm < self.jaw_height_mm, 'groove_depth_mm must be < jaw_height_mm')
        self.require(self.clamp_screw_offset_mm - self.clamp_screw_diameter_mm / 2 > self.groove_width_mm / 2,
                     f'clamp_screw_offset_mm = {self.clamp_screw_offset_mm}: the screw holes cut the groove')
        self.require(self.clamp_screw_offset_mm + self.clamp_screw_diameter_mm / 2 < self.jaw_width_mm / 2,
                     f'clamp_screw_offset_mm = {self.clamp_screw_offset_mm}: the screw holes leave the jaw')
        self.require(self.groove_start_mm < self.clamp_screw_x_mm < self.jaw_length_mm,
                     'clamp_screw_x_mm must lie between groove_start_mm and jaw_length_mm')

    def envelope_mm(self) -> tuple[float, float, float]:
        return self.jaw_length_mm, self.jaw_width_mm, self.jaw_height_mm

    def build(self) -> Part:
        cy = self.jaw_width_mm / 2
        part = block(self.jaw_length_mm, self.jaw_width_mm, self.jaw_height_mm)
        part -= block(self.jaw_length_mm - self.groove_start_mm, self.groove_width_mm, self.groove_depth_mm,
                      (self.groove_start_mm, cy - self.groove_width_mm / 2,
                       self.jaw_height_mm - self.groove_depth_mm))
        part -= hole_z(self.mount_hole_diameter_mm, self.mount_hole_x_mm, cy, 0, self.jaw_height_mm)
        part -= hole_z(self.counterbore_diameter_mm, self.mount_hole_x_mm, cy,
                       self.jaw_height_mm - self.counterbore_depth_mm, self.counterbore_depth_mm)
        for sign in (-1, 1):
            part -= hole_z(self.clamp_screw_diameter_mm, self.clamp_screw_x_mm, cy + sign * self.clamp_screw_offset_mm,
                           0, self.jaw_height_mm)
        return part


@dataclasses.dataclass(frozen=True)
class MouseHeadFixTop(PartSpec):
    """Top jaw: a plate screwed onto the bottom jaw over the head bar (two M3 screws)."""

    name = 'MouseHeadFixTop'
    description = 'top jaw of the head-bar clamp'
    plate_length_mm: float = 16.0
    plate_width_mm: float = 14.0
    plate_thickness_mm: float = 4.0
    screw_offset_mm: float = 4.5  # as MouseHeadFixBottom.clamp_screw_offset_mm
    screw_hole_diameter_mm: float = M3_CLEARANCE_MM
    thumb_notch_depth_mm: float = 1.5  # a notch on the outer end to lift the jaw off

    def check(self) -> None:
        self.require(self.screw_offset_mm + self.screw_hole_diameter_mm / 2 < self.plate_width_mm / 2,
                     f'screw_offset_mm = {self.screw_offset_mm}: the screw holes leave the plate')
        self.require(self.thumb_notch_depth_mm < self.plate_thickness_mm,
                     'thumb_notch_depth_mm must be < plate_thickness_mm')

    def envelope_mm(self) -> tuple[float, float, float]:
        return self.plate_length_mm, self.plate_width_mm, self.plate_thickness_mm

    def build(self) -> Part:
        cx, cy = self.plate_length_mm / 2, self.plate_width_mm / 2
        part = block(self.plate_length_mm, self.plate_width_mm, self.plate_thickness_mm)
        for sign in (-1, 1):
            part -= hole_z(self.screw_hole_diameter_mm, cx, cy + sign * self.screw_offset_mm, 0,
                           self.plate_thickness_mm)
        notch_w = self.plate_width_mm / 3
        part -= block(2.0, notch_w, self.thumb_notch_depth_mm,
                      (self.plate_length_mm - 2.0, cy - notch_w / 2,
                       self.plate_thickness_mm - self.thumb_notch_depth_mm))
        return part


@dataclasses.dataclass(frozen=True)
class MouseHeadFixBack(PartSpec):
    """Back plate across the two posts (screwed to their back faces) that keeps them
    parallel at the head bar's span; a window in the middle for cables and light."""

    name = 'MouseHeadFixBack'
    description = 'back plate tying the left and right posts together'
    plate_length_mm: float = 90.0
    plate_height_mm: float = 40.0
    plate_thickness_mm: float = 5.0
    post_spacing_mm: float = 70.0  # centre to centre of the two posts
    hole_spacing_mm: float = 20.0  # as MouseHeadFixPost.back_hole_spacing_mm
    hole_top_offset_mm: float = 16.0  # as MouseHeadFixPost.back_hole_top_offset_mm
    hole_diameter_mm: float = M3_CLEARANCE_MM
    window_width_mm: float = 40.0
    window_height_mm: float = 18.0

    def check(self) -> None:
        self.require(self.post_spacing_mm + self.hole_diameter_mm < self.plate_length_mm,
                     f'post_spacing_mm = {self.post_spacing_mm}: the holes leave the plate')
        self.require(self.window_width_mm + self.hole_diameter_mm < self.post_spacing_mm,
                     f'window_width_mm = {self.window_width_mm}: the window cuts the post holes')
        self.require(self.hole_top_offset_mm + self.hole_spacing_mm + self.hole_diameter_mm / 2 < self.plate_height_mm,
                     'the holes must lie on the plate (offset + spacing < plate_height_mm)')
        self.require(self.window_height_mm < self.plate_height_mm - 4,
                     'window_height_mm must leave 2 mm above and below')

    def envelope_mm(self) -> tuple[float, float, float]:
        return self.plate_length_mm, self.plate_thickness_mm, self.plate_height_mm

    def build(self) -> Part:
        cx = self.plate_length_mm / 2
        part = block(self.plate_length_mm, self.plate_thickness_mm, self.plate_height_mm)
        for sign in (-1, 1):
            for k in range(2):
                z = self.plate_height_mm - self.hole_top_offset_mm - k * self.hole_spacing_mm
                part -= hole_y(self.hole_diameter_mm, cx + sign * self.post_spacing_mm / 2, z, 0,
                               self.plate_thickness_mm)
        part -= block(self.window_width_mm, self.plate_thickness_mm, self.window_height_mm,
                      (cx - self.window_width_mm / 2, 0, (self.plate_height_mm - self.window_height_mm) / 2))
        return part
