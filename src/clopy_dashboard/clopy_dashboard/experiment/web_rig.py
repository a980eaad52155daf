"""Rigs on other computers, the dashboard's routes and the central page's start there
(docs/experiments.md, "Rigs on other computers").

The rig computer's dashboard (`clopy dashboard --token-file F --rig NAME`) adds:

* GET  /experiments/{name}/rig/state   the sessions of its rigs (running ones with subject, day,
                                       start; ended ones with their record), for the central page
* POST /experiments/{name}/rig/run     a start sent by the central dashboard (JSON: subject, day,
                                       rig, profile): the profile values into this computer's
                                       profile of the subject, then `clopy experiment run` here, as
                                       the page's own start; 409 with the reason when busy here

The state is read as the pages are (the dashboard's guard: its Host, its token). The start
comes from another server, not from a browser: it needs the token in the ``x-clopy-token``
header, always (a dashboard without a token refuses it), and an Origin only when one is given
(it must then be the page's own). Nothing here imports rclpy."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from clopy import config as cfg

from clopy_dashboard.experiment import records
from clopy_dashboard.experiment.definition import ExperimentError
from clopy_dashboard.experiment.pairing import RIG_ENV, local_rigs
from clopy_dashboard.experiment.registry import SESSION_FIELDS, Busy, Registry
from clopy_dashboard.experiment.remote import (START_TIMEOUT_S, RigError, call, checked_sent_profile,
                                               profile_for_start, remote_host, sync, write_sent_profile)
from clopy_dashboard.security import TOKEN_HEADER, Refused


def rig_tokens(app) -> dict[str, str]:
    """{rig: token} the central dashboard was started with (`--rig-token`; app.state.rig_tokens)."""
    return dict(getattr(app.state, 'rig_tokens', None) or {})


def checked_start(exp, form: dict) -> tuple[str, int, str]:
    """(subject, day, rig) of a start request; 400 naming what is wrong."""
    subject = str(form.get('subject') or '')
    try:
        day = int(form.get('day') or 0)
        rig = str(form.get('rig') or exp.subject(subject).rig)
        exp.rig(rig)
        exp.plan_for(subject, day)
    except (ExperimentError, ValueError) as exc:
        raise HTTPException(400, f'cannot start: {exc}') from None
    return subject, day, rig


def start_on_rig(exp, subject: str, day: int, rig: str, data_root: Path, tokens: dict[str, str]) -> dict:
    """The central side (the registry just synced with the rig computers): the subject must run
    nowhere this computer knows of; then the start goes to the rig's dashboard with the subject's
    profile values. HTTPException with the rig's own refusal when it refuses."""
    target = exp.rig(rig)
    with Registry(data_root) as reg:   # the subject held here from now on: no second start anywhere meanwhile
        try:
            reg.hold_remote(exp.name, subject, remote_host(target))
        except Busy as exc:
            raise HTTPException(409, str(exc)) from None
    body = {'subject': subject, 'day': day, 'rig': rig, 'profile': profile_for_start(data_root, subject)}
    try:
        answer = call(target, tokens.get(rig), 'POST', f'/experiments/{quote(exp.name)}/rig/run', body,
                      timeout_s=START_TIMEOUT_S)
    except RigError as exc:
        with Registry(data_root) as reg:
            reg.drop_remote_hold(exp.name, subject, remote_host(target))
        raise HTTPException(exc.status, f'cannot start {subject} day {day} on {rig}: {exc}') from None
    with Registry(data_root) as reg:   # its running row (and its hold on the subject) here at once
        sync(exp, reg, tokens, [target])
    return {'started': True, 'rig': rig, 'on': target.dashboard, 'pid': answer.get('pid')}


def add_rig_routes(app, *, data_root: Path, guard, experiment, start_here, busy) -> None:
    """The rig computer's routes (the central dashboard's calls); `experiment(name)` loads a
    file (404), `start_here(exp, subject, day, rig)` starts a run here, `busy(exp, subject, rig)`
    says why not ('' when free)."""

    def from_a_server(request: Request) -> None:
        server_guard = getattr(app.state, 'guard', None)
        if server_guard is None or server_guard.token is None:
            raise HTTPException(403, 'this dashboard has no token: a start from another computer needs one '
                                     '(start it with --token-file FILE)')
        host = request.headers.get('host')
        try:
            server_guard.check_host(host)
            server_guard.check_origin(host, request.headers.get('origin'), required=False)
        except Refused as exc:
            raise HTTPException(exc.status, exc.reason) from None
        if not server_guard.token_ok(request.headers.get(TOKEN_HEADER)):
            raise HTTPException(401, f'token missing or wrong: a start from another computer sends the token of '
                                     f'this dashboard\'s --token-file in the {TOKEN_HEADER} header')

    @app.get('/experiments/{name}/rig/state', dependencies=[Depends(guard)])
    def rig_state(name: str):
        exp = experiment(name)
        here = local_rigs()
        with Registry(data_root) as reg:
            records.refresh(reg)
            rows = [{k: r[k] for k in (*SESSION_FIELDS, 'id', 'pid')} for r in reg.sessions(exp.name)
                    if r['rig'] in here]
            return JSONResponse({'host': reg.host, 'rigs': sorted(here), 'sessions': rows})

    @app.post('/experiments/{name}/rig/run', dependencies=[Depends(from_a_server)])
    async def rig_run(name: str, request: Request):
        try:
            form = await request.json()
        except ValueError:
            raise HTTPException(400, 'the body is not valid JSON') from None
        if not isinstance(form, dict):
            raise HTTPException(400, 'the body is not a JSON object')
        return await run_in_threadpool(start_sent, name, form)

    def start_sent(name: str, form: dict):
        exp = experiment(name)
        subject, day, rig = checked_start(exp, form)
        if rig not in local_rigs():
            raise HTTPException(403, f'this computer is not the host of {rig!r} (its dashboard runs with '
                                     f'{RIG_ENV}={",".join(sorted(local_rigs())) or "nothing"}; start it with '
                                     f'--rig {rig})')
        try:   # every part of the request checked before anything is written
            paradigms = checked_sent_profile(form.get('profile') or {})
        except ValueError as exc:
            raise HTTPException(400, f'cannot start: {exc}') from None
        why = busy(exp, subject, rig)
        if why:
            raise HTTPException(409, why)
        try:
            write_sent_profile(data_root, subject, paradigms)
        except (ValueError, cfg.ConfigError) as exc:
            raise HTTPException(400, f'cannot start: {exc}') from None
        return JSONResponse(start_here(exp, subject, day, rig), status_code=202)
