"""Holders around the head-fixed mouse: the 45-degree mirror under the mouse (its
front and rear ends; the CLMF camera sees the side view and the mirror's bottom
view in one frame), the lick spout, and the liquid light guide of the CLNF
illumination with a light funnel around the imaging path."""
from __future__ import annotations

import dataclasses
import math

from build123d import Box, Cone, Cylinder, Part, Plane, Pos, Rot, SlotCenterToCenter, extrude, mirror

from rig_parts.base import (CENTRE_BOTTOM, M3_CLEARANCE_MM, M3_TAP_MM, M6_CLEARANCE_MM, PartSpec, block, hole_x,
                            hole_y, hole_z)


@dataclasses.dataclass(frozen=True)
class MirrorHolderFront(PartSpec):
    """One end of the mirror mount: a block with a blind slot at ``mirror_angle_deg``
    that takes an edge of the mirror, on a flange with two M3 holes. x runs along the
    mirror's long edge (the mouse's body), the slot opens towards +x (the mirror)."""

    name = 'MirrorHolderFront'
    description = 'front end of the 45-degree mirror mount (slot opens towards the rear)'
    block_length_mm: float = 12.0
    block_width_mm: float = 40.0
    block_height_mm: float = 35.0
    slot_depth_mm: float = 6.0
    mirror_thickness_mm: float = 2.0  # 2-mm first-surface glass mirror
    mirror_clearance_mm: float = 0.3
    mirror_angle_deg: float = 45.0
    flange_length_mm: float = 12.0
    flange_thickness_mm: float = 4.0
    mount_hole_diameter_mm: float = M3_CLEARANCE_MM
    mount_hole_spacing_mm: float = 28.0

    def check(self) -> None:
        self.require(0 < self.mirror_angle_deg < 90,
                     f'mirror_angle_deg = {self.mirror_angle_deg}; allowed: 0 < angle < 90')
        self.require(self.slot_depth_mm < self.block_length_mm, 'slot_depth_mm must be < block_length_mm')
        self.require(self.mount_hole_spacing_mm + self.mount_hole_diameter_mm < self.block_width_mm,
                     f'mount_hole_spacing_mm = {self.mount_hole_spacing_mm}: the holes leave the flange')
        self.require(self.flange_thickness_mm < self.block_height_mm, 'flange_thickness_mm must be < block_height_mm')

    def envelope_mm(self) -> tuple[float, float, float]:
        return self.flange_length_mm + self.block_length_mm, self.block_width_mm, self.block_height_mm

    def build(self) -> Part:
        fl, cy = self.flange_length_mm, self.block_width_mm / 2
        part = block(fl, self.block_width_mm, self.flange_thickness_mm)
        part += block(self.block_length_mm, self.block_width_mm, self.block_height_mm, (fl, 0, 0))
        span = 2 * math.hypot(self.block_width_mm, self.block_height_mm)
        slot = Box(self.slot_depth_mm + 1.0, span, self.mirror_thickness_mm + self.mirror_clearance_mm)
        x_slot = fl + self.block_length_mm - self.slot_depth_mm + (self.slot_depth_mm + 1.0) / 2
        part -= Pos(x_slot, cy, self.block_height_mm / 2) * Rot(self.mirror_angle_deg, 0, 0) * slot
        for sign in (-1, 1):
            part -= hole_z(self.mount_hole_diameter_mm, fl / 2, cy + sign * self.mount_hole_spacing_mm / 2, 0,
                           self.flange_thickness_mm)
        return part


@dataclasses.dataclass(frozen=True)
class MirrorHolderRear(MirrorHolderFront):
    """The other end of the mirror mount: the front holder mirrored (slot opens towards -x)."""

    name = 'MirrorHolderRear'
    description = 'rear end of the 45-degree mirror mount (mirror image of the front)'

    def build(self) -> Part:
        mirrored = mirror(super().build(), about=Plane.YZ)
        return Pos(self.envelope_mm()[0], 0, 0) * mirrored


@dataclasses.dataclass(frozen=True)
class SpoutHolder(PartSpec):
    """An arm clamped to a post through a slot (M6, adjustable along the arm) that holds
    the lick spout (a blunt needle) in a vertical bore at its tip with an M3 set screw."""

    name = 'SpoutHolder'
    description = 'arm holding the lick spout; slotted for adjustment on a post'
    arm_length_mm: float = 45.0
    arm_width_mm: float = 10.0
    arm_height_mm: float = 8.0
    mount_slot_length_mm: float = 12.0  # centre to centre travel
    mount_slot_width_mm: float = M6_CLEARANCE_MM
    mount_slot_start_mm: float = 4.0
    spout_diameter_mm: float = 1.85  # 16 G blunt needle (1.65 mm) + clearance
    spout_inset_mm: float = 5.0  # from the tip to the bore's centre
    set_screw_diameter_mm: float = M3_TAP_MM

    def check(self) -> None:
        slot_end = self.mount_slot_start_mm + self.mount_slot_length_mm + self.mount_slot_width_mm
        self.require(slot_end + 4 < self.arm_length_mm - self.spout_inset_mm,
                     f'arm_length_mm = {self.arm_length_mm}: the mount slot reaches the spout bore')
        self.require(self.mount_slot_width_mm < self.arm_width_mm - 2, 'mount_slot_width_mm must leave 1 mm walls')
        self.require(self.spout_diameter_mm < self.arm_width_mm - 2, 'spout_diameter_mm must leave 1 mm walls')

    def envelope_mm(self) -> tuple[float, float, float]:
        return self.arm_length_mm, self.arm_width_mm, self.arm_height_mm

    def build(self) -> Part:
        cy = self.arm_width_mm / 2
        part = block(self.arm_length_mm, self.arm_width_mm, self.arm_height_mm)
        slot_cx = self.mount_slot_start_mm + self.mount_slot_width_mm / 2 + self.mount_slot_length_mm / 2
        slot = extrude(SlotCenterToCenter(self.mount_slot_length_mm, self.mount_slot_width_mm), self.arm_height_mm)
        part -= Pos(slot_cx, cy, 0) * slot
        spout_x = self.arm_length_mm - self.spout_inset_mm
        part -= hole_z(self.spout_diameter_mm, spout_x, cy, 0, self.arm_height_mm)
        part -= hole_y(self.set_screw_diameter_mm, spout_x, self.arm_height_mm / 2, 0, cy)
        return part


@dataclasses.dataclass(frozen=True)
class LightGuideHolder(PartSpec):
    """Holds the end of the liquid light guide above the head: a collar with a bore for
    the guide's tip and an M3 set screw, on a base with two M3 holes."""

    name = 'LightGuideHolder'
    description = 'collar for the liquid light guide tip on a screw-down base'
    base_length_mm: float = 32.0
    base_width_mm: float = 20.0
    base_thickness_mm: float = 5.0
    collar_outer_diameter_mm: float = 16.0
    collar_height_mm: float = 15.0
    guide_diameter_mm: float = 10.2  # 10-mm tip + clearance
    set_screw_diameter_mm: float = M3_TAP_MM
    mount_hole_diameter_mm: float = M3_CLEARANCE_MM
    mount_hole_spacing_mm: float = 25.0

    def check(self) -> None:
        self.require(self.collar_outer_diameter_mm <= min(self.base_length_mm, self.base_width_mm),
                     'collar_outer_diameter_mm must fit on the base')
        self.require(self.guide_diameter_mm < self.collar_outer_diameter_mm - 3,
                     f'guide_diameter_mm = {self.guide_diameter_mm}: the collar wall must be >= 1.5 mm')
        gap = (self.mount_hole_spacing_mm - self.mount_hole_diameter_mm - self.collar_outer_diameter_mm) / 2
        self.require(gap > 0, f'mount_hole_spacing_mm = {self.mount_hole_spacing_mm}: the holes cut the collar')
        self.require(self.mount_hole_spacing_mm + self.mount_hole_diameter_mm < self.base_length_mm,
                     f'mount_hole_spacing_mm = {self.mount_hole_spacing_mm}: the holes leave the base')

    def envelope_mm(self) -> tuple[float, float, float]:
        return self.base_length_mm, self.base_width_mm, self.base_thickness_mm + self.collar_height_mm

    def build(self) -> Part:
        cx, cy = self.base_length_mm / 2, self.base_width_mm / 2
        height = self.base_thickness_mm + self.collar_height_mm
        part = block(self.base_length_mm, self.base_width_mm, self.base_thickness_mm)
        part += Pos(cx, cy, self.base_thickness_mm) * Cylinder(self.collar_outer_diameter_mm / 2,
                                                                self.collar_height_mm, align=CENTRE_BOTTOM)
        part -= hole_z(self.guide_diameter_mm, cx, cy, 0, height)
        z_screw = self.base_thickness_mm + self.collar_height_mm / 2
        part -= hole_x(self.set_screw_diameter_mm, cy, z_screw, cx, self.collar_outer_diameter_mm / 2 + 1)
        for sign in (-1, 1):
            part -= hole_z(self.mount_hole_diameter_mm, cx + sign * self.mount_hole_spacing_mm / 2, cy, 0,
                           self.base_thickness_mm)
        return part


@dataclasses.dataclass(frozen=True)
class LightFunnel(PartSpec):
    """A conical shroud between the camera lens (wide end, with a flange) and the
    head (narrow end) that keeps room light out of the imaging path."""

    name = 'LightFunnel'
    description = 'conical light shroud between the lens and the head'
    height_mm: float = 25.0
    narrow_inner_diameter_mm: float = 14.0
    wide_inner_diameter_mm: float = 30.0
    wall_thickness_mm: float = 1.6
    flange_diameter_mm: float = 42.0
    flange_thickness_mm: float = 2.0

    def check(self) -> None:
        self.require(self.narrow_inner_diameter_mm < self.wide_inner_diameter_mm,
                     'narrow_inner_diameter_mm must be < wide_inner_diameter_mm')
        self.require(self.flange_diameter_mm > self.wide_inner_diameter_mm + 2 * self.wall_thickness_mm,
                     f'flange_diameter_mm = {self.flange_diameter_mm}: must be wider than the funnel')
        self.require(self.flange_thickness_mm < self.height_mm, 'flange_thickness_mm must be < height_mm')

    def envelope_mm(self) -> tuple[float, float, float]:
        return self.flange_diameter_mm, self.flange_diameter_mm, self.height_mm

    def build(self) -> Part:
        h, w = self.height_mm, self.wall_thickness_mm
        r0, r1 = self.narrow_inner_diameter_mm / 2, self.wide_inner_diameter_mm / 2
        part = Cone(r0 + w, r1 + w, h, align=CENTRE_BOTTOM)
        part += Pos(0, 0, h - self.flange_thickness_mm) * Cylinder(self.flange_diameter_mm / 2,
                                                                   self.flange_thickness_mm, align=CENTRE_BOTTOM)
        slope = (r1 - r0) / h  # the inner cone runs 1 mm past both ends so the cut goes through
        part -= Pos(0, 0, -1.0) * Cone(r0 - slope, r1 + slope, h + 2.0, align=CENTRE_BOTTOM)
        return Pos(self.flange_diameter_mm / 2, self.flange_diameter_mm / 2, 0) * part
