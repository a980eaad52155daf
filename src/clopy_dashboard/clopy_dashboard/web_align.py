"""Routes of the alignment page: the image to align on, the placement a session of the
mouse would use now (bregma, ROI boxes, atlas seeds) and saving a new one into the
mouse's profile."""
from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from clopy import config as cfg
from clopy_dashboard import alignment
from clopy_dashboard.imaging import encode_jpeg, roi_geometry
from clopy_dashboard.web import guard_dependency, page


class AlignmentSave(BaseModel):
    mouse: str
    paradigm: str
    bregma_row_px: float
    bregma_col_px: float
    rois: list[str] | None = None   # None: the ROIs as they are (atlas names follow bregma)


def add_align_routes(app: FastAPI, data_root: Path, mouse: str = 'mouse', paradigm: str = 'clnf_1roi') -> None:
    check = Depends(guard_dependency(app.state.guard))
    app.state.nav.append(('/align', 'Alignment'))

    def placement(m: str, p: str) -> dict:
        try:
            return alignment.placement(data_root, m, p)
        except cfg.ConfigError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.get('/align', response_class=HTMLResponse, include_in_schema=False)
    def align_page() -> str:
        return page('align.html')

    @app.get('/api/align/defaults', dependencies=[check])
    def defaults() -> dict:
        return {'mouse': mouse, 'paradigm': paradigm}

    @app.get('/api/align', dependencies=[check])
    def current(mouse_id: str = Query(mouse, alias='mouse'), paradigm_name: str = Query(paradigm, alias='paradigm')
                ) -> dict:
        place = placement(mouse_id, paradigm_name)
        _, source = alignment.alignment_image(data_root, mouse_id, place)
        return {'mouse': mouse_id, 'paradigm': paradigm_name, 'image_source': source,
                'geometry': roi_geometry(place), 'data_root': str(data_root)}

    @app.get('/api/align/geometry', dependencies=[check])
    def geometry(bregma_row_px: float, bregma_col_px: float, mouse_id: str = Query(mouse, alias='mouse'),
                 paradigm_name: str = Query(paradigm, alias='paradigm'), rois: list[str] | None = Query(None)
                 ) -> dict:
        """What a placement would look like (atlas ROIs and seeds follow bregma), unsaved."""
        place = dict(placement(mouse_id, paradigm_name), bregma_row_px=bregma_row_px, bregma_col_px=bregma_col_px)
        if rois:
            place['rois'] = rois
        try:
            return roi_geometry(place)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.get('/api/align/image.jpg', dependencies=[check])
    def image(mouse_id: str = Query(mouse, alias='mouse'), paradigm_name: str = Query(paradigm, alias='paradigm')
              ) -> Response:
        place = placement(mouse_id, paradigm_name)
        img, _ = alignment.alignment_image(data_root, mouse_id, place)
        return Response(encode_jpeg(img, 90), media_type='image/jpeg')

    @app.post('/api/align', dependencies=[check])
    def save(body: AlignmentSave) -> dict:
        try:
            place = alignment.save_alignment(data_root, body.mouse, body.paradigm, body.bregma_row_px,
                                             body.bregma_col_px, body.rois)
        except cfg.ConfigError as exc:
            raise HTTPException(422, str(exc)) from None
        return {'ok': True, 'geometry': roi_geometry(place),
                'message': f'saved in the profile of {body.mouse}: its next session uses it'}
