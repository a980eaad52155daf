"""The experiment pages of the dashboard (FastAPI routes; docs/experiments.md).

``add_routes(app, data_root=..., guard=...)`` adds:

* GET  /experiments                          the experiment files (config/experiments, <data root>/experiments)
* GET  /experiments/{name}                   subjects x days with each session's status, what is due,
                                             the rigs and what runs on each, a start form per subject
* POST /experiments/{name}/run               start a subject's day on a rig: a background
                                             `clopy experiment run` (subject, day, rig: form or JSON);
                                             409 with the reason when the rig or the subject is busy;
                                             a rig on another computer (`dashboard:` in the file): sent
                                             to that computer's dashboard (web_rig), which runs it there
* GET  /experiments/{name}/subjects/{id}     the subject's history: each session's summary figure and
                                             the learning curve across days
* GET  /experiments/{name}/subjects/{id}/learning.png, /experiments/{name}/sessions/{n}/summary.png
* GET  /experiments/{name}/rig/state, POST /experiments/{name}/rig/run   a rig computer's side (web_rig)

The page, its JSON (`accept: application/json`) and each start first ask the rig computers
what runs there (experiment.remote.sync: imported into this registry; "unreachable" when one
does not answer, its last word standing).

`guard` is the dashboard's dependency: every route goes through it (a read needs the proper Host
and, off loopback, the token; the POST also the same Origin). The page's query (`?token=...`)
is carried into its links and images.
The pages read the registry and the session folders; nothing here imports rclpy."""
from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.concurrency import run_in_threadpool

from clopy_data.folder import SessionFolder
from clopy_data.session import check_name

from clopy_dashboard.experiment import records
from clopy_dashboard.experiment.curve import curve_path, draw_curve, learning
from clopy_dashboard.experiment.definition import ExperimentError, experiment_dirs, find_experiment, load_experiment
from clopy_dashboard.experiment.overview import overview, overview_json
from clopy_dashboard.experiment.registry import FINISHED, RUNNING, UNFINISHED, Registry
from clopy_dashboard.experiment.remote import is_remote, sync
from clopy_dashboard.experiment.run_day import check_rig_here
from clopy_dashboard.experiment.web_rig import add_rig_routes, checked_start, rig_tokens, start_on_rig

#: how long the POST waits for the started run to hold its rig and subject
START_WAIT_S = 30.0
STYLE = ('<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}'
         'td,th{border:1px solid #bbb;padding:3px 7px;text-align:center}.finished{background:#cfc}'
         '.unfinished{background:#fcc}.running{background:#ffc}.unreachable{background:#ddd;color:#a00}'
         '.due{outline:2px solid #36c}'
         'img{max-width:100%}</style>')


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(f'<!doctype html><html><head><meta charset="utf-8"><title>{_e(title)}</title>{STYLE}'
                        f'</head><body><h1>{_e(title)}</h1>{body}</body></html>')


def list_experiments(data_root: Path) -> list[dict]:
    """[{name, path}] of the experiment files found (a name once: the first place wins)."""
    found: dict[str, dict] = {}
    for folder in experiment_dirs(data_root):
        for path in sorted(folder.glob('*.y*ml')) if folder.is_dir() else []:
            found.setdefault(path.stem, {'name': path.stem, 'path': str(path)})
    return list(found.values())


def add_routes(app, *, data_root: Path, guard) -> None:
    """Add the experiment routes to a FastAPI app; `guard` guards every route."""
    data_root = Path(data_root).absolute()

    def experiment(name: str):
        try:
            check_name('experiment', name)
            if Path(name).suffix:   # a name, never a file of the dashboard's working folder
                raise ExperimentError(f'experiment {name!r}: give its name without .yaml')
            return load_experiment(find_experiment(name, data_root))
        except (ExperimentError, ValueError) as exc:
            raise HTTPException(404, str(exc)) from None

    def registry_rows(exp, subject: str | None = None) -> list[dict]:
        with Registry(data_root) as reg:
            records.refresh(reg)
            return reg.sessions(exp.name, subject)

    def synced_rows(exp) -> tuple[list[dict], dict[str, str]]:
        """The rows after asking each rig computer (imported); {rig: why it did not answer}."""
        with Registry(data_root) as reg:
            records.refresh(reg)
            unreachable = sync(exp, reg, rig_tokens(app))
            return reg.sessions(exp.name), unreachable

    @app.get('/experiments', dependencies=[Depends(guard)])
    def experiments(request: Request):
        query = _query(request)
        found = list_experiments(data_root)
        if 'application/json' in request.headers.get('accept', ''):
            return JSONResponse(found)
        items = ''.join(f'<li><a href="/experiments/{quote(x["name"])}{query}">{_e(x["name"])}</a> '
                        f'<small>{_e(x["path"])}</small></li>' for x in found)
        return _page('Experiments', f'<ul>{items or "<li>none found</li>"}</ul><p>data root {_e(data_root)}</p>')

    @app.get('/experiments/{name}', dependencies=[Depends(guard)])
    def experiment_page(name: str, request: Request):
        exp = experiment(name)
        # the page's query (the dashboard's ?token=...) goes with its form, as the guard wants it
        query = _query(request)
        rows, unreachable = synced_rows(exp)
        ov = overview(exp, rows)
        if 'application/json' in request.headers.get('accept', ''):
            return JSONResponse(overview_json(ov, unreachable))
        days = exp.all_days
        head = ''.join(f'<th>{d}</th>' for d in days)
        rows = []
        for s in ov.subjects:
            cells = []
            for d in days:
                r = s.days.get(d)
                cls = (r['status'] if r else '') + (' due' if d == s.due else '')
                text = {FINISHED: 'ok', UNFINISHED: 'X', RUNNING: 'running'}.get(r['status'], '?') if r else \
                    ('due' if d == s.due else '')
                title = f' title="{_e(r["end_reason"])}"' if r else ''
                cells.append(f'<td class="{cls.strip()}"{title}>{text}</td>' if d in exp.days(s.subject)
                             else '<td>-</td>')
            start = ''
            if s.due is not None and s.running is None:
                options = ''.join(f'<option{" selected" if r == s.rig else ""}>{_e(r)}</option>' for r in exp.rigs)
                start = (f'<form method="post" action="/experiments/{quote(exp.name)}/run{query}">'
                         f'<input type="hidden" name="subject" value="{_e(s.subject)}">'
                         f'day <input name="day" size="3" value="{s.due}"> on <select name="rig">{options}</select>'
                         f' <button type="submit">start</button></form>')
            rows.append(f'<tr><th><a href="/experiments/{quote(exp.name)}/subjects/{quote(s.subject)}{query}">'
                        f'{_e(s.subject)}</a></th><td>{_e(s.group)}</td><td>{_e(s.rig or "-")}</td>{"".join(cells)}'
                        f'<td>{"done" if s.due is None else f"day {s.due}"}</td><td>{start}</td></tr>')
        rigs = ''.join(_rig_row(exp.rigs[n], r, unreachable.get(n)) for n, r in ov.rigs.items())
        failed = ''.join(f'<li>{_e(r["subject"])} day {r["day"]} ({_e(r["started"])}): {_e(r["end_reason"])}</li>'
                         for s in ov.subjects for r in s.failed)
        body = (f'<p>{_e(exp.description)} <small>{_e(exp.path)}</small></p>'
                f'<table id="grid"><tr><th>subject</th><th>group</th><th>rig</th>{head}<th>due</th><th></th></tr>'
                f'{"".join(rows)}</table><h2>Rigs</h2><table id="rigs"><tr><th>rig</th><th>ROS domain</th>'
                f'<th>host</th><th>now</th><th>dashboard</th></tr>{rigs}</table>'
                + (f'<h2>Failed or cut short</h2><ul id="failed">{failed}</ul>' if failed else ''))
        return _page(f'Experiment {exp.name}', body)

    one_start = threading.Lock()

    @app.post('/experiments/{name}/run', dependencies=[Depends(guard)])
    async def start_run(name: str, request: Request):
        form = await _form(request)
        wants_json = 'application/json' in request.headers.get('content-type', '')
        back = f'?{request.url.query}' if request.url.query else ''
        # the checks and the wait for the run's locks block: off the event loop
        return await run_in_threadpool(start, name, form, wants_json, back)

    def start(name: str, form: dict, wants_json: bool, back: str):
        with one_start:   # one start at a time: its checks and its holds before the next one's
            return start_one(name, form, wants_json, back)

    def start_one(name: str, form: dict, wants_json: bool, back: str):
        exp = experiment(name)
        subject, day, rig = checked_start(exp, form)
        synced_rows(exp)   # what the rig computers run now: a subject busy there is busy here
        if is_remote(exp.rig(rig)):   # its own dashboard starts it there
            answer = start_on_rig(exp, subject, day, rig, data_root, rig_tokens(app))
        else:
            try:
                check_rig_here(exp, rig)
            except ExperimentError as exc:
                raise HTTPException(400, f'cannot start: {exc}') from None
            answer = start_here(exp, subject, day, rig)
        if wants_json:
            return JSONResponse(answer, status_code=202)
        return RedirectResponse(f'/experiments/{quote(exp.name)}{back}', status_code=303)

    def start_here(exp, subject: str, day: int, rig: str) -> dict:
        """`clopy experiment run` on this computer, once its rig and subject are free here."""
        busy = _busy(exp, subject, rig)
        if busy:
            raise HTTPException(409, busy)
        proc, log = _spawn(exp, subject, day, rig, data_root)
        waited = _wait_started(exp, subject, proc, log)
        if waited is not None:
            raise HTTPException(409 if 'busy' in waited else 500, waited)
        return {'started': True, 'rig': rig, 'pid': proc.pid, 'log': str(log)}

    def _busy(exp, subject: str, rig: str) -> str:
        with Registry(data_root) as reg:
            records.refresh(reg)
            for lock in reg.locks():
                if (lock['kind'], lock['name']) in (('rig', rig), ('subject', subject)):
                    return f'{lock["kind"]} {lock["name"]!r} is busy: {reg.describe(lock)}'
        return ''

    def _wait_started(exp, subject: str, proc: subprocess.Popen, log: Path) -> str | None:
        """None once the run holds its locks; else why it did not start (its log's tail)."""
        deadline = time.monotonic() + START_WAIT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log.read_text(errors='replace').strip().splitlines()[-5:]
                return f'the run ended at once (exit {proc.returncode}): ' + ' | '.join(tail)
            if any(r['status'] == RUNNING and r['pid'] == proc.pid for r in registry_rows(exp, subject)):
                return None
            time.sleep(0.2)
        return None   # still starting: the page shows it once it holds its rig

    @app.get('/experiments/{name}/subjects/{subject}', dependencies=[Depends(guard)])
    def subject_page(name: str, subject: str, request: Request):
        query = _query(request)
        exp = experiment(name)
        try:
            exp.subject(subject)
        except ExperimentError as exc:
            raise HTTPException(404, str(exc)) from None
        rows = registry_rows(exp, subject)
        base = f'/experiments/{quote(exp.name)}'
        items = []
        for r in rows:
            figure = SessionFolder(r['session_dir']).summary_figure if r['session_dir'] else None
            img = (f'<img src="{base}/sessions/{r["id"]}/summary.png{query}" alt="summary of day {r["day"]}">'
                   if figure is not None and figure.is_file() else '<p>no summary figure</p>')
            items.append(f'<section class="session {r["status"]}"><h3>day {r["day"]}: {_e(r["status"])} '
                         f'({_e(r["started"])}, {_e(r["rig"])})</h3><p>{_e(r["end_reason"])}; trials {r["trials"]}, '
                         f'successes {r["successes"]}, rewards {r["rewards"]}, water {r["water_ul"]} ul, '
                         f'threshold at the end {r["final_threshold"]}</p>'
                         f'<p><small>{_e(r["session_dir"])}</small></p>{img}</section>')
        curve = (f'<h2>Learning curve</h2><img id="curve" src="{base}/subjects/{quote(subject)}/learning.png{query}" '
                 f'alt="learning curve">' if any(r['rewards'] is not None for r in rows) else '')
        return _page(f'{exp.name}: {subject}', f'<p><a href="{base}{query}">back to {_e(exp.name)}</a></p>{curve}'
                     + (''.join(items) or '<p>no sessions yet</p>'))

    @app.get('/experiments/{name}/subjects/{subject}/learning.png', dependencies=[Depends(guard)])
    def learning_png(name: str, subject: str):
        exp = experiment(name)
        if subject not in exp.subjects:
            raise HTTPException(404, f'no subject {subject!r} in {exp.name}')
        rows = registry_rows(exp)
        table, norm, _ = learning(exp, rows)
        if not (table['mouse_id'] == subject).any():
            raise HTTPException(404, f'{subject}: no session with a summary yet')
        path = draw_curve(curve_path(data_root, exp, subject), exp, subject, table, norm)
        return FileResponse(path, media_type='image/png')

    @app.get('/experiments/{name}/sessions/{session_id}/summary.png', dependencies=[Depends(guard)])
    def summary_png(name: str, session_id: int):
        exp = experiment(name)
        row = next((r for r in registry_rows(exp) if r['id'] == session_id), None)
        figure = SessionFolder(row['session_dir']).summary_figure if row and row['session_dir'] else None
        if figure is None or not figure.is_file():
            raise HTTPException(404, f'session {session_id} of {exp.name}: no summary figure')
        return FileResponse(figure, media_type='image/png')

    add_rig_routes(app, data_root=data_root, guard=guard, experiment=experiment, start_here=start_here, busy=_busy)


def _query(request: Request) -> str:
    """The page's own query (the dashboard's ?token=...), for its links, images and form."""
    return f'?{_e(request.url.query)}' if request.url.query else ''


def _rig_row(rig, running: dict | None, unreachable: str | None = None) -> str:
    now = f'{running["subject"]} day {running["day"]} since {running["started"]}' if running else 'free'
    if unreachable:   # what it said last stands
        now = f'unreachable ({unreachable}); last seen: {now}'
    cls = 'unreachable' if unreachable else 'running' if running else ''
    return (f'<tr><th>{_e(rig.name)}</th><td>{rig.domain_id}</td><td>{_e(rig.host or "this computer")}</td>'
            f'<td class="{cls}">{_e(now)}</td><td>{_e(rig.dashboard or "-")}</td></tr>')


async def _form(request: Request) -> dict:
    """The POST's fields: JSON, or a URL-encoded form (parsed here: no multipart library)."""
    body = await request.body()
    if 'application/json' in request.headers.get('content-type', ''):
        try:
            data = json.loads(body or b'{}')
        except ValueError:
            raise HTTPException(400, 'the body is not valid JSON') from None
        return data if isinstance(data, dict) else {}
    return {k: v[0] for k, v in parse_qs(body.decode('utf-8', 'replace')).items()}


def _spawn(exp, subject: str, day: int, rig: str, data_root: Path) -> tuple[subprocess.Popen, Path]:
    """`clopy experiment run` in the background (its own process group, its output in a
    log under <data_root>/logs/)."""
    logs = data_root / 'logs'
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f'experiment-{exp.name}-{subject}-day{day}-{datetime.now():%Y%m%d-%H%M%S}.log'
    cmd = [sys.executable, '-m', 'clopy.cli', 'experiment', 'run', str(exp.path), '--subject', subject,
           '--day', str(day), '--rig', rig, '--data-root', str(data_root)]
    with open(log, 'w') as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=dict(os.environ))
    return proc, log


__all__ = ['add_routes', 'list_experiments']
