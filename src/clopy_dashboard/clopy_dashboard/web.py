"""The dashboard's web app (FastAPI): the static pages, the guard every state-changing
request goes through, and the routes of a live session (web_live) and of alignment
(web_align). `clopy dashboard` also mounts the experiment pages when that package part
is installed (clopy_dashboard.experiment.web)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from clopy_dashboard.security import TOKEN_HEADER, TOKEN_QUERY, Guard, Refused

STATIC = Path(__file__).resolve().parent / 'static'
EXPERIMENT_MODULE = 'clopy_dashboard.experiment.web'


def guard_dependency(guard: Guard):
    """A FastAPI dependency: token (when in force), same origin and a proper Host for
    every state-changing request (anything but GET/HEAD/OPTIONS); a read (the data of a
    page: images, placements) needs the proper Host and the token when in force."""

    def check(request: Request) -> None:
        token = request.headers.get(TOKEN_HEADER) or request.query_params.get(TOKEN_QUERY)
        host = request.headers.get('host')
        try:
            if request.method in ('GET', 'HEAD', 'OPTIONS'):
                guard.check_read(host, token)
            else:
                guard.check_change(host, request.headers.get('origin'), token)
        except Refused as exc:
            raise HTTPException(exc.status, exc.reason) from None

    return check


def page(name: str) -> str:
    return (STATIC / name).read_text()


def create_app(guard: Guard, title: str = 'CLoPy dashboard') -> FastAPI:
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.guard = guard
    app.state.nav = []   # (path, label) of the pages, for the navigation bar
    app.mount('/static', StaticFiles(directory=STATIC), name='static')

    @app.get('/api/nav')
    def nav() -> dict:
        return {'pages': [{'path': p, 'label': label} for p, label in app.state.nav],
                'token_required': guard.token is not None}

    return app


def add_experiments(app: FastAPI, data_root: Path) -> bool:
    """Mount the experiment pages (/experiments) when they are installed."""
    if importlib.util.find_spec(EXPERIMENT_MODULE) is None:
        return False
    web = importlib.import_module(EXPERIMENT_MODULE)
    web.add_routes(app, data_root=Path(data_root), guard=guard_dependency(app.state.guard))
    app.state.nav.append(('/experiments', 'Experiments'))
    return True


def add_root(app: FastAPI, target: str) -> None:
    @app.get('/', include_in_schema=False)
    def root(request: Request):
        query = f'?{request.url.query}' if request.url.query else ''
        return RedirectResponse(target + query)
