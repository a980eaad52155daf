"""Routes of a running session: the live page, its websocket (JSON updates and JPEG
frames) and the controls (task variables, manual reward, stop), each through the guard.

`actions` is the node's side (clopy_dashboard.dashboard_node), any object with
  set_variable(name: str, text: str) -> (ok, message)   as `ros2 param set /task v.NAME TEXT`
  manual_reward(duration_s: float) -> (ok, message)     the reward node's manual_reward service
  stop_session() -> (ok, message)                       the task node's stop_session service
"""
from __future__ import annotations

import asyncio
import json
import re

from fastapi import Depends, FastAPI, HTTPException, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from clopy_dashboard.security import TOKEN_QUERY, RateLimit, Refused
from clopy_dashboard.state import LiveState
from clopy_dashboard.web import guard_dependency, page

UPDATE_PERIOD_S = 0.5
_VARIABLE_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_]*\Z')


class VariableChange(BaseModel):
    name: str
    value: str


class ManualRewardRequest(BaseModel):
    duration_s: float = 0.0


def _answer(ok: bool, message: str) -> dict:
    if not ok:
        raise HTTPException(409, message)
    return {'ok': True, 'message': message}


def add_live_routes(app: FastAPI, live: LiveState, actions, valve_limit: RateLimit | None = None) -> None:
    guard = app.state.guard
    check = Depends(guard_dependency(guard))
    valve_limit = valve_limit or RateLimit()
    app.state.nav.insert(0, ('/live', 'Session'))

    @app.get('/live', response_class=HTMLResponse, include_in_schema=False)
    def live_page() -> str:
        return page('live.html')

    @app.post('/api/variable', dependencies=[check])
    def set_variable(change: VariableChange) -> dict:
        name = change.name[2:] if change.name.startswith('v.') else change.name
        if not _VARIABLE_RE.match(name):
            raise HTTPException(422, f'variable {change.name!r}: a task variable name, e.g. threshold')
        return _answer(*actions.set_variable(name, change.value))

    @app.post('/api/reward', dependencies=[check])
    def manual_reward(request: ManualRewardRequest) -> dict:
        if not 0.0 <= request.duration_s <= 10.0:
            raise HTTPException(422, f'duration_s = {request.duration_s}: allowed 0 (the configured pulse) '
                                     'to 10 s (the reward node applies its own limit)')
        why = valve_limit.take()
        if why:
            raise HTTPException(429, why)
        return _answer(*actions.manual_reward(request.duration_s))

    @app.post('/api/stop', dependencies=[check])
    def stop_session() -> dict:
        return _answer(*actions.stop_session())

    @app.websocket('/ws')
    async def updates(ws: WebSocket) -> None:
        origin = ws.headers.get('origin')
        host = ws.headers.get('host')
        try:
            guard.check_read(host, ws.query_params.get(TOKEN_QUERY))
            guard.check_origin(host, origin, required=False)   # another site's page: refused
        except Refused:
            await ws.close(code=1008)
            return
        await ws.accept()
        cursor, frame_seq = None, 0
        try:
            while True:
                update, cursor = live.delta(cursor)
                await ws.send_text(json.dumps(_clean(update), default=str))
                frame_seq, jpeg = live.latest_frame(frame_seq)
                if jpeg is not None:
                    await ws.send_bytes(jpeg)
                await asyncio.sleep(UPDATE_PERIOD_S)
        except (WebSocketDisconnect, RuntimeError, ConnectionError):
            return


def _clean(obj):
    """NaN and infinities as null (JSON has neither)."""
    if isinstance(obj, float):
        return obj if obj == obj and abs(obj) != float('inf') else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj
