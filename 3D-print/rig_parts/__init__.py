"""Parametric models of the CLoPy rig parts (build123d), written as STL, STEP, DXF
(laser-cut parts) and a preview PNG by ``clopy parts`` or ``python 3D-print/generate.py``.

Every part is a frozen dataclass of its key dimensions (``*_mm``, ``*_deg``) with a
``build()`` that returns the solid and an ``envelope_mm()`` giving its bounding box
(x, y, z) from the parameters. Flat parts also have ``profile()``: the 2-D outline
that is extruded and written as DXF for a laser cutter.
"""
from __future__ import annotations

from rig_parts.base import PartSpec
from rig_parts.export import GeneratedFiles, generate, write_part
from rig_parts.flat import MouseEnclosureTop, MouseHolderSide
from rig_parts.headfix import MouseHeadFixBack, MouseHeadFixBottom, MouseHeadFixPost, MouseHeadFixTop
from rig_parts.holders import LightFunnel, LightGuideHolder, MirrorHolderFront, MirrorHolderRear, SpoutHolder

#: every part with its default parameters, in the order they are written
PARTS: dict[str, PartSpec] = {p.name: p for p in (
    MouseHeadFixPost(), MouseHeadFixBottom(), MouseHeadFixTop(), MouseHeadFixBack(),
    MirrorHolderFront(), MirrorHolderRear(), SpoutHolder(), LightGuideHolder(), LightFunnel(),
    MouseHolderSide(), MouseEnclosureTop(),
)}

__all__ = ['PARTS', 'GeneratedFiles', 'LightFunnel', 'LightGuideHolder', 'MirrorHolderFront', 'MirrorHolderRear',
           'MouseEnclosureTop', 'MouseHeadFixBack', 'MouseHeadFixBottom', 'MouseHeadFixPost', 'MouseHeadFixTop',
           'MouseHolderSide', 'PartSpec', 'SpoutHolder', 'generate', 'write_part']
