"""The central dashboard's side of rigs on other computers: asking a rig computer's own
`clopy dashboard` what runs there and what ran (imported into this registry), and
starting a subject's day there (docs/experiments.md, "Rigs on other computers").

HTTP with the standard library: a few seconds' timeout, no proxy, no redirect (the
token goes to the address of the experiment file and nowhere else), the token in the
``x-clopy-token`` header. Errors name the rig and its address. Plain Python."""
from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

from clopy.profile import load_profile, profile_path, update_profile

from clopy_dashboard.experiment.definition import Experiment, Rig
from clopy_dashboard.experiment.pairing import TOKENS_ENV, local_rigs
from clopy_dashboard.experiment.registry import FINISHED, Registry
from clopy_dashboard.security import TOKEN_HEADER

#: how long a rig computer's dashboard has to answer (a start: until its run holds rig and subject there)
TIMEOUT_S = 4.0
START_TIMEOUT_S = 40.0
#: the registry's host of the rows imported from a rig computer
REMOTE_HOST = 'rig {rig} at {address}'
#: what a start sends the rig of the subject's profile: the carried-over threshold of each
#: paradigm (alignment stays with each rig computer: its camera, its own align page)
CARRIED_KEYS = ('task.v.threshold',)


class RigError(RuntimeError):
    """A rig computer that cannot be reached or refuses; `status` is the HTTP status to pass on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None   # a redirect is answered as the error it is: the token never follows it


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def is_remote(rig: Rig) -> bool:
    """A rig on another computer whose dashboard this one talks to."""
    return bool(rig.dashboard) and rig.name not in local_rigs()


def remote_rigs(exp: Experiment) -> list[Rig]:
    return [r for r in exp.rigs.values() if is_remote(r)]


def remote_host(rig: Rig) -> str:
    return REMOTE_HOST.format(rig=rig.name, address=rig.dashboard)


def call(rig: Rig, token: str | None, method: str, path: str, body: dict | None = None,
         timeout_s: float = TIMEOUT_S) -> dict:
    """JSON from the rig's dashboard; RigError naming the rig and its address."""
    if not token:
        raise RigError(502, f'no token for {rig.name} ({rig.dashboard}): start this dashboard with --rig-token '
                            f'{rig.name}=FILE (or {TOKENS_ENV}), FILE a copy of the --token-file of {rig.name}\'s')
    request = urllib.request.Request(
        rig.dashboard + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={'accept': 'application/json', 'content-type': 'application/json', TOKEN_HEADER: token})
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            return json.loads(response.read() or b'{}')
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise RigError(502, f'token wrong or missing for {rig.name} ({rig.dashboard}): pair them again '
                                f'(the file of --rig-token {rig.name}=FILE is a copy of its --token-file)') from None
        raise RigError(409 if exc.code == 409 else 502,
                       f'{rig.name} ({rig.dashboard}) refuses: {_detail(exc)}') from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, 'reason', None) or exc
        raise RigError(502, f'{rig.name} ({rig.dashboard}) cannot be reached: {reason}') from None


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        text = exc.read().decode('utf-8', 'replace')
        return str(json.loads(text).get('detail') or text)
    except (OSError, ValueError, AttributeError):
        return f'HTTP {exc.code}'


def sync(exp: Experiment, registry: Registry, tokens: dict[str, str], rigs: list[Rig] | None = None
         ) -> dict[str, str]:
    """Ask each rig computer what ran there and import it; {rig: why it could not be asked}.
    A rig that does not answer keeps the rows it gave last (a run it reported running still
    holds its subject here)."""
    errors: dict[str, str] = {}
    for rig in remote_rigs(exp) if rigs is None else rigs:
        try:
            state = call(rig, tokens.get(rig.name), 'GET', f'/experiments/{quote(exp.name)}/rig/state')
            if not isinstance(state, dict) or not isinstance(state.get('sessions'), list):
                raise RigError(502, f'{rig.name} ({rig.dashboard}) answered no rig state (is it a clopy dashboard?)')
            if rig.name not in (state.get('rigs') or []):   # e.g. restarted without --rig: it knows nothing of it
                raise RigError(502, f'{rig.name} ({rig.dashboard}) answered as the host of '
                                    f'{", ".join(state.get("rigs") or []) or "no rig"}, not of {rig.name} (start its '
                                    f'dashboard with --rig {rig.name} and its own --out)')
            rows = [r for r in state['sessions'] if isinstance(r, dict) and r.get('rig') == rig.name]
        except RigError as exc:
            errors[rig.name] = str(exc)
            continue
        host = remote_host(rig)
        # every row this registry holds, whoever wrote it: a finished session is carried back once
        before = {r['session_dir']: r['status'] for r in registry.sessions(exp.name) if r['session_dir']}
        registry.import_remote(exp.name, host, rows)
        for row in rows:
            if row.get('status') == FINISHED and before.get(row.get('session_dir')) != FINISHED:
                carry_back(exp, registry, row)
    return errors


def carry_back(exp: Experiment, registry: Registry, row: dict) -> None:
    """A finished session of a rig computer: the threshold it ended with goes into this
    computer's profile of the subject, when it is the subject's latest finished session
    of that paradigm here."""
    if row.get('final_threshold') is None:
        return
    done = [r for r in registry.sessions(exp.name, row['subject'])
            if r['status'] == FINISHED and r['paradigm'] == row['paradigm'] and r['final_threshold'] is not None]
    if done and max(done, key=lambda r: r['started'] or '')['session_dir'] == row.get('session_dir'):
        update_profile(registry.data_root, row['subject'], paradigm=row['paradigm'],
                       paradigm_parameters={'task.v.threshold': row['final_threshold']})


def profile_for_start(data_root: Path, subject: str) -> dict:
    """What a start sends the rig of the subject's profile here: {'paradigms': {paradigm:
    {'task.v.threshold': value}}}, the thresholds the subject's sessions carried over."""
    paradigms = load_profile(data_root, subject).get('paradigms') or {}
    sent = {p: {k: v for k, v in values.items() if k in CARRIED_KEYS}
            for p, values in paradigms.items() if isinstance(values, dict)}
    return {'paradigms': {p: v for p, v in sent.items() if v}}


def checked_sent_profile(sent) -> dict:
    """The profile values a start brought, checked before anything is written: only the
    carried-over thresholds, finite numbers > 0, of known paradigms (ValueError naming what
    is wrong)."""
    from clopy.paradigms import PARADIGMS
    allowed = (f"allowed: {{'paradigms': {{paradigm: {{{', '.join(CARRIED_KEYS)}: a number > 0}}}}}} "
               f"(paradigms: {', '.join(PARADIGMS)})")
    if not isinstance(sent, dict) or set(sent) - {'paradigms'} or not isinstance(sent.get('paradigms', {}), dict):
        raise ValueError(f'profile: {sent!r}; {allowed}')
    paradigms = sent.get('paradigms', {})
    for paradigm, values in paradigms.items():
        if paradigm not in PARADIGMS or not isinstance(values, dict) or set(values) - set(CARRIED_KEYS):
            raise ValueError(f'profile: paradigms.{paradigm} = {values!r}; {allowed}')
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value <= 0:
                raise ValueError(f'profile: paradigms.{paradigm}.{key} = {value!r}; {allowed}')
    return paradigms


def write_sent_profile(data_root: Path, subject: str, paradigms: dict) -> Path:
    """The rig side: the checked thresholds (checked_sent_profile) into this computer's
    profile of the subject, before its run."""
    for paradigm, values in paradigms.items():
        update_profile(data_root, subject, paradigm=str(paradigm), paradigm_parameters=dict(values))
    return profile_path(data_root, subject)
