"""Alignment before a session: the image to align on (the mouse's newest session, or a
synthetic preview), the ROI placement a session of the mouse would use now, and saving
a new placement into the mouse's profile (clopy.profile), which its next `clopy run`
applies. Plain Python.

Saved: bregma (`roi_dff.bregma_row_px` / `bregma_col_px`) for every paradigm of the
mouse; ROIs moved by hand (`roi_dff.rois` as `NAME=row,col,height,width` boxes) for the
paradigm aligned only, so a 2-ROI rule keeps its own ROIs."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from clopy import config as cfg
from clopy.paradigms import PARADIGMS
from clopy.profile import apply_profile, update_profile
from clopy_data.folder import PARAMETERS
from clopy_data.session import is_session_of
from clopy_signal.errors import ConfigError as RoiConfigError
from clopy_signal.roi import rois_from_config

from clopy_dashboard.imaging import image_array, synthetic_preview

ROI_KEYS = ('rois', 'frame_height_px', 'frame_width_px', 'bregma_row_px', 'bregma_col_px', 'px_per_mm',
            'roi_size_mm')


def newest_session(out_dir: Path, mouse: str, paradigm: str | None = None) -> Path | None:
    """The mouse's newest session folder under `out_dir` (by the start time in its name) of
    `paradigm`, or of any paradigm that images the cortex (roi_dff: never a behaviour camera)."""
    paradigms = [paradigm] if paradigm else [p for p, d in PARADIGMS.items() if 'roi_dff' in d.node_names]
    found = sorted((p.parent for name in paradigms for p in Path(out_dir).glob(f'{name}/{mouse}_*/{PARAMETERS}')
                    if is_session_of(p.parent.name, mouse)), key=lambda d: d.name[len(mouse) + 1:])
    return found[-1] if found else None


def session_image(session_dir: Path) -> np.ndarray | None:
    """The first camera image recorded in a session's bag (None without one)."""
    from clopy_data.bag import read_bag, typestore_with_clopy
    bag = Path(session_dir) / 'bag'
    if not bag.is_dir():
        return None
    try:
        for record in read_bag(bag, typestore_with_clopy(), topics=['image_raw']):
            m = record.msg
            return image_array(m.encoding, m.height, m.width, m.step, bytes(m.data))
    except Exception:  # noqa: BLE001 - an unreadable bag: the synthetic preview instead
        return None
    return None


def placement(out_dir: Path, mouse: str, paradigm: str) -> dict:
    """roi_dff's placement parameters a session of `mouse` in `paradigm` would use now
    (the paradigm's parameter file with the mouse's profile applied)."""
    if paradigm not in PARADIGMS or 'roi_dff' not in PARADIGMS[paradigm].node_names:
        allowed = [p for p in PARADIGMS if 'roi_dff' in PARADIGMS[p].node_names]
        raise cfg.ConfigError(f'--paradigm {paradigm!r}: alignment places cortical ROIs; allowed: '
                              f'{", ".join(allowed)}')
    _, params = cfg.load_params(paradigm)
    apply_profile(params, Path(out_dir), mouse, paradigm)
    roi = params.get('roi_dff', {})
    return {k: roi[k] for k in ROI_KEYS if k in roi}


def alignment_image(out_dir: Path, mouse: str, place: dict) -> tuple[np.ndarray, str]:
    """(image, where it comes from) to align on."""
    session = newest_session(out_dir, mouse)
    if session is not None:
        img = session_image(session)
        if img is not None:
            return img, f'first frame of {session.name}'
    h, w = int(place.get('frame_height_px', 256)), int(place.get('frame_width_px', 256))
    return synthetic_preview(h, w), 'synthetic preview (no session of this mouse yet)'


def save_alignment(out_dir: Path, mouse: str, paradigm: str, bregma_row_px: float, bregma_col_px: float,
                   rois: list[str] | None = None) -> dict:
    """Check the placement against the frame, write it into the mouse's profile and
    return roi_dff's placement as the next session will use it."""
    place = placement(out_dir, mouse, paradigm)
    h, w = int(place.get('frame_height_px', 256)), int(place.get('frame_width_px', 256))
    for key, value, top in (('bregma_row_px', bregma_row_px, h), ('bregma_col_px', bregma_col_px, w)):
        if not isinstance(value, (int, float)) or not 0 <= float(value) <= top:
            raise cfg.ConfigError(f'alignment of {mouse!r}: {key} = {value!r}; allowed: 0 to {top} px '
                                  f'(inside the {h}x{w} frame)')
    specs = list(rois) if rois else list(place.get('rois', []))
    try:
        rois_from_config(specs, h, w, float(bregma_row_px), float(bregma_col_px),
                         float(place.get('px_per_mm', 25.6)), float(place.get('roi_size_mm', 0.3)))
    except RoiConfigError as exc:
        raise cfg.ConfigError(f'alignment of {mouse!r}: {exc}') from exc
    update_profile(out_dir, mouse,
                   parameters={'roi_dff.bregma_row_px': round(float(bregma_row_px), 1),
                               'roi_dff.bregma_col_px': round(float(bregma_col_px), 1)},
                   paradigm=paradigm, paradigm_parameters={'roi_dff.rois': specs} if rois else None)
    return placement(out_dir, mouse, paradigm)
