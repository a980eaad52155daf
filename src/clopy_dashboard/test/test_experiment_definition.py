"""The experiment file's checks: each bad input refused, naming the file, the entry and the value."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from clopy_dashboard.experiment.definition import ExperimentError, find_experiment, load_experiment

EXAMPLE = Path(__file__).resolve().parents[3] / 'config' / 'experiments' / 'example.yaml'


@pytest.fixture(scope='module')
def base():
    return yaml.safe_load(EXAMPLE.read_text())


def refused(tmp_path: Path, data: dict) -> str:
    path = tmp_path / 'bad.yaml'
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    text = str(info.value)
    assert text.startswith(str(path) + ': '), text
    return text


def changed(base: dict, change) -> dict:
    data = copy.deepcopy(base)
    change(data)
    return data


def test_the_example_is_valid_and_plans_two_days_for_two_mice():
    exp = load_experiment(find_experiment('example'))
    assert exp.name == 'example' and exp.sim
    assert sorted(exp.subjects) == ['M1', 'M2']
    assert exp.days('M1') == [1, 2]
    assert {r.name: r.domain_id for r in exp.rigs.values()} == {'rig1': 101, 'rig2': 102}
    plan = exp.plan_for('M1', 2)
    assert plan.paradigm == 'clnf_1roi' and plan.trials == 2
    assert 'roi_dff.rule=M1_L' in plan.settings() and 'task.v.session_type=graded' in plan.settings()
    with pytest.raises(ExperimentError, match=r"no day 3 .*planned days: 1, 2"):
        exp.plan_for('M1', 3)


def test_the_realistic_study_in_the_example_comments_is_valid(tmp_path):
    text = EXAMPLE.read_text().split('Copy it into a file of its own.\n#\n')[1]
    path = tmp_path / 'study.yaml'
    path.write_text('\n'.join(line[2:] for line in text.splitlines()))
    exp = load_experiment(path)
    assert exp.days('GT35') == list(range(1, 20))
    assert exp.plan_for('GT35', 10).rule == 'BC_L' and exp.plan_for('GT35', 11).rule == 'BC_L-BC_R'
    assert exp.plan_for('GT37', 5).session_type == 'fixed_tone'
    assert exp.rigs['rig2'].host == 'rig2.local'
    # a rig on another computer runs there, never here (it would drive this computer's valve)
    from clopy_dashboard.experiment.run_day import run_options
    subject = next(s for s in exp.subjects.values() if s.rig == 'rig2')
    day = exp.days(subject.id)[0]
    with pytest.raises(ExperimentError, match=r"rig 'rig2' is on 'rig2.local', not this computer"):
        run_options(exp, subject.id, day, None, None, tmp_path)
    run_options(exp, subject.id, day, 'rig1', None, tmp_path)   # rig1 has no host: this computer


def test_unknown_paradigm(tmp_path, base):
    text = refused(tmp_path, changed(base, lambda d: d['plans']['grp1'][0].update(paradigm='clnf_9roi')))
    assert "plans.grp1[0] paradigm: unknown paradigm 'clnf_9roi'; allowed: clnf_1roi, clnf_2roi, clmf" in text


def test_unknown_roi(tmp_path, base):
    text = refused(tmp_path, changed(base, lambda d: d['plans']['grp1'][0].update(rois=['XX_L'], rule='XX_L')))
    assert 'plans.grp1[0] (days 1)' in text and "'XX_L'" in text and 'BC' in text


def test_rule_over_an_roi_not_listed(tmp_path, base):
    text = refused(tmp_path, changed(base, lambda d: d['plans']['grp1'][1].update(rule='BC_L-BC_R')))
    assert 'plans.grp1[1] (days 2)' in text and 'BC_L' in text and "['M1_L']" in text


def test_unknown_body_part(tmp_path, base):
    plan = {'days': 3, 'paradigm': 'clmf', 'body_part': 'paw9'}
    text = refused(tmp_path, changed(base, lambda d: d['plans']['grp1'].append(plan)))
    assert "plans.grp1[2] (days 3) body_part: 'paw9' is no body part of the pose model; allowed: " in text
    assert 'fl_r' in text
    plan['body_part'] = 'fl_r'
    path = tmp_path / 'good.yaml'
    path.write_text(yaml.safe_dump(changed(base, lambda d: d['plans']['grp1'].append(plan))))
    assert load_experiment(path).plan_for('M1', 3).settings() == ['speed.control_part=fl_r']


def test_unknown_key_in_set(tmp_path, base):
    text = refused(tmp_path, changed(base, lambda d: d['plans']['grp1'][0].update(set=['task.v.treshold=0.1'])))
    assert 'plans.grp1[0] (days 1)' in text and 'task.v.treshold = 0.1: unknown parameter' in text


def test_bad_value_in_set(tmp_path, base):
    text = refused(tmp_path, changed(base, lambda d: d['plans']['grp1'][0].update(set=['task.v.max_trial_s=-3'])))
    assert 'plans.grp1[0] (days 1)' in text and 'task.v.max_trial_s' in text and '-3' in text


def test_unknown_key_in_an_entry(tmp_path, base):
    text = refused(tmp_path, changed(base, lambda d: d['plans']['grp1'][0].update(roi='M1_L')))
    assert "plans.grp1[0]: unknown key 'roi'; allowed: days, paradigm, rois" in text


def test_overlapping_days(tmp_path, base):
    text = refused(tmp_path, changed(base, lambda d: d['plans']['grp1'][1].update(days='1-3')))
    assert "plans.grp1[1] (days 1-3) days: '1-3' overlaps plans.grp1[0] (days 1)" in text


@pytest.mark.parametrize('days', ['0-3', '5-2', 'monday', True])
def test_bad_day_range(tmp_path, base, days):
    text = refused(tmp_path, changed(base, lambda d: d['plans']['grp1'][1].update(days=days)))
    assert f'plans.grp1[1] days: {days!r} is not a day range' in text and '"1-10"' in text


def test_subject_in_an_unknown_group(tmp_path, base):
    text = refused(tmp_path, changed(base, lambda d: d['subjects'][1].update(group='grp9')))
    assert "subjects[1] (M2) group: 'grp9' has no plan; groups with a plan: grp1" in text


def test_subject_in_no_group(tmp_path, base):
    text = refused(tmp_path, changed(base, lambda d: d['subjects'][0].pop('group')))
    assert "subjects[0]: missing 'group'" in text


def test_subject_on_an_unknown_rig(tmp_path, base):
    text = refused(tmp_path, changed(base, lambda d: d['subjects'][0].update(rig='rig7')))
    assert "subjects[0] (M1) rig: 'rig7' is no rig of this file; rigs: rig1, rig2" in text


def test_subject_twice(tmp_path, base):
    text = refused(tmp_path, changed(base, lambda d: d['subjects'][1].update(id='M1')))
    assert "subjects[1] (M1) id: 'M1' is listed twice" in text


def test_two_rigs_on_one_domain(tmp_path, base):
    text = refused(tmp_path, changed(base, lambda d: d['rigs'][1].update(domain_id=101)))
    assert "rigs[1] (rig2) domain_id: 101 is rig 'rig1'" in text


@pytest.mark.parametrize('domain', [233, -1, 'x'])
def test_bad_domain_id(tmp_path, base, domain):
    text = refused(tmp_path, changed(base, lambda d: d['rigs'][0].update(domain_id=domain)))
    assert f'rigs[0] (rig1) domain_id: {domain!r}; allowed: an integer 0-232' in text


def test_unknown_session_type_and_bad_trials(tmp_path, base):
    text = refused(tmp_path, changed(base, lambda d: d['plans']['grp1'][0].update(session_type='loud')))
    assert "plans.grp1[0] session_type: 'loud'; allowed: graded, fixed_tone" in text
    text = refused(tmp_path, changed(base, lambda d: d['plans']['grp1'][0].update(trials=0)))
    assert 'plans.grp1[0] trials: 0; allowed: an integer >= 1' in text


def test_unknown_top_level_key_and_missing_sections(tmp_path, base):
    text = refused(tmp_path, changed(base, lambda d: d.update(subject=[])))
    assert "top level: unknown key 'subject'; allowed: name, description" in text
    text = refused(tmp_path, changed(base, lambda d: d.pop('plans')))
    assert "top level: missing 'plans'" in text


def test_not_yaml_and_unknown_names(tmp_path):
    path = tmp_path / 'broken.yaml'
    path.write_text('rigs: [\n')
    with pytest.raises(ExperimentError, match=f'{path}: not valid YAML'):
        load_experiment(path)
    with pytest.raises(ExperimentError, match=r"no experiment 'nope': looked for nope.yaml in .*config/experiments"):
        find_experiment('nope')


def two_computers(base: dict, dashboard, host='198.18.0.2') -> dict:
    def change(d):
        d['rigs'][1].update(dashboard=dashboard, **({'host': host} if host else {}))
    return changed(base, change)


def test_a_rig_computer_dashboard_address(tmp_path, base):
    path = tmp_path / 'two.yaml'
    path.write_text(yaml.safe_dump(two_computers(base, 'http://198.18.0.2:8090/')))
    exp = load_experiment(path, check_plans=False)
    assert exp.rigs['rig2'].dashboard == 'http://198.18.0.2:8090' and exp.rigs['rig1'].dashboard == ''
    path.write_text(yaml.safe_dump(two_computers(base, 'https://rig2.lab:443')))
    assert load_experiment(path, check_plans=False).rigs['rig2'].dashboard == 'https://rig2.lab:443'


@pytest.mark.parametrize('address', ['rig2.local:8090', 'ftp://rig2.local:8090', 'http://rig2.local',
                                     'http://:8090', 'http://rig2.local:8090/experiments', 'http://rig2.local:0',
                                     'http://u:secret@rig2.local:8090', 'http://rig2.local:99999',
                                     'http://rig2.local:8090?token=x', 8090])
def test_a_bad_dashboard_address_is_refused(tmp_path, base, address):
    text = refused(tmp_path, two_computers(base, address))
    assert f'rigs[1] (rig2) dashboard: {address!r}; allowed: an address http://HOST:PORT' in text


def test_a_dashboard_address_needs_the_rig_host(tmp_path, base):
    text = refused(tmp_path, two_computers(base, 'http://198.18.0.2:8090', host=None))
    assert "rigs[1] (rig2) dashboard: 'http://198.18.0.2:8090' needs the rig's host too" in text


def test_the_host_of_a_rig_says_so_with_clopy_rig(tmp_path, base, monkeypatch):
    from clopy_dashboard.experiment.pairing import RIG_ENV
    from clopy_dashboard.experiment.run_day import run_options
    path = tmp_path / 'two.yaml'
    path.write_text(yaml.safe_dump(two_computers(base, 'http://198.18.0.2:8090')))
    exp = load_experiment(path)
    monkeypatch.delenv(RIG_ENV, raising=False)
    with pytest.raises(ExperimentError, match=r"rig 'rig2' is on '198.18.0.2', not this computer .*: start it from a "
                                              r"dashboard that has its address \(http://198.18.0.2:8090\)"):
        run_options(exp, 'M2', 1, None, None, tmp_path)
    monkeypatch.setenv(RIG_ENV, 'rig3,rig2')
    assert run_options(exp, 'M2', 1, None, None, tmp_path).domain_id == 102
