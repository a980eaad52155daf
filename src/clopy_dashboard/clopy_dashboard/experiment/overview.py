"""Where every subject of an experiment stands: per subject and day the latest session's
status, the day that is due, what failed, and what runs on each rig (for `clopy
experiment status` and the experiment page). Plain Python."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from clopy_dashboard.experiment.definition import Experiment
from clopy_dashboard.experiment.registry import FINISHED, RUNNING, UNFINISHED


@dataclass
class SubjectState:
    subject: str
    group: str
    rig: str
    days: dict[int, dict] = field(default_factory=dict)   # day -> latest session row
    due: int | None = None          # the first planned day without a finished session
    running: dict | None = None
    failed: list[dict] = field(default_factory=list)      # unfinished sessions, oldest first
    water_ul: float = 0.0


@dataclass
class Overview:
    experiment: Experiment
    subjects: list[SubjectState]
    rigs: dict[str, dict | None]   # rig -> the running session row, or None when free
    study_day: int | None = None   # today's day of the study (start_date given)


def overview(exp: Experiment, rows: list[dict], today: date | None = None) -> Overview:
    """rows: the experiment's session rows (registry.sessions, after records.refresh)."""
    states = []
    rigs: dict[str, dict | None] = {name: None for name in exp.rigs}
    for s in exp.subjects.values():
        mine = [r for r in rows if r['subject'] == s.id]
        st = SubjectState(s.id, s.group, s.rig)
        for r in mine:   # in the order of their start: the latest of a day wins
            st.days[r['day']] = r
            st.water_ul += float(r['water_ul'] or 0.0)
            if r['status'] == RUNNING:
                st.running = r
                if r['rig']:
                    rigs[r['rig']] = r
            elif r['status'] == UNFINISHED:
                st.failed.append(r)
        finished = {r['day'] for r in mine if r['status'] == FINISHED}
        st.due = next((d for d in exp.days(s.id) if d not in finished), None)
        states.append(st)
    study_day = None
    if exp.start_date is not None:
        study_day = ((today or date.today()) - exp.start_date).days + 1
    return Overview(exp, states, rigs, study_day)


def overview_json(ov: Overview, unreachable: dict[str, str] | None = None) -> dict:
    """The overview for the page's JSON: each subject's days, due day and run; each rig's
    run, and why a rig computer did not answer (what it said last stands)."""
    unreachable = unreachable or {}
    brief = ('subject', 'day', 'rig', 'status', 'started', 'ended', 'end_reason', 'trials', 'rewards',
             'final_threshold', 'host')

    def short(row: dict | None) -> dict | None:
        return None if row is None else {k: row.get(k) for k in brief}
    return {'experiment': ov.experiment.name, 'study_day': ov.study_day,
            'subjects': [{'subject': s.subject, 'group': s.group, 'rig': s.rig, 'due': s.due,
                          'running': short(s.running), 'days': {str(d): short(r) for d, r in s.days.items()}}
                         for s in ov.subjects],
            'rigs': {name: {'host': ov.experiment.rigs[name].host, 'dashboard': ov.experiment.rigs[name].dashboard,
                            'running': short(row), 'unreachable': unreachable.get(name, '')}
                     for name, row in ov.rigs.items()}}


def status_text(ov: Overview, unreachable: dict[str, str] | None = None) -> str:
    """The plain-text report of `clopy experiment status`."""
    exp = ov.experiment
    days = exp.all_days
    mark = {FINISHED: 'ok', UNFINISHED: 'X', RUNNING: '>'}
    lines = [f'experiment {exp.name} ({exp.path}): {len(exp.subjects)} subjects, days {days[0]}-{days[-1]}'
             + (f'; today is study day {ov.study_day}' if ov.study_day is not None else '')]
    shown = days if len(days) <= 20 else [d for d in days if any(d in s.days for s in ov.subjects)] or days[:20]
    lines.append(f'{"subject":<12}{"group":<8}{"rig":<8}' + ''.join(f'{d:>4}' for d in shown) + '   due')
    for s in ov.subjects:
        cells = ''.join(f'{mark.get(s.days[d]["status"], "?") if d in s.days else ".":>4}' for d in shown)
        due = 'done' if s.due is None else f'day {s.due}'
        if ov.study_day is not None and s.due is not None and s.due < ov.study_day:
            due += f' (behind: study day {ov.study_day})'
        lines.append(f'{s.subject:<12}{s.group:<8}{s.rig or "-":<8}{cells}   {due}')
    lines.append('  ok finished, X unfinished, > running, . not run')
    lines.append('rigs:')
    for name, row in ov.rigs.items():
        rig = exp.rigs[name]
        where = f'domain {rig.domain_id}' + (f', host {rig.host}' if rig.host else '')
        now = f'{row["subject"]} day {row["day"]} since {row["started"]}' if row else 'free'
        if (unreachable or {}).get(name):
            now = f'unreachable ({unreachable[name]}); last seen: {now}'
        lines.append(f'  {name:<10} ({where}): {now}')
    failed = [r for s in ov.subjects for r in s.failed]
    if failed:
        lines.append('failed or cut short:')
        for r in failed:
            lines.append(f'  {r["subject"]} day {r["day"]} on {r["rig"] or "-"} ({r["started"]}): {r["end_reason"]}'
                         + (f'\n    {r["session_dir"]}' if r['session_dir'] else ''))
    return '\n'.join(lines)
