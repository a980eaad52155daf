"""The dashboard in a real browser: Debian's chromium driven by Playwright for Python
(executable_path, no Playwright browser download), over a simulated session.

One module-scoped scenario, then one test per claim on what it left behind:
1. `clopy dashboard --host 0.0.0.0` (a bind address other than loopback, reached here
   through 127.0.0.1; nothing leaves the machine): without the token a save and the
   mouse's image are refused and the page says why; with the token (the page opened with
   ?token=), a click places bregma, a ROI is dragged and Save writes the mouse's profile.
2. `clopy run clnf_1roi --sim --dashboard --dashboard-port 0` for that mouse (its next
   session): the page shows images that change and a control-signal trace that grows;
   the threshold set on the page reaches the task; Manual reward opens the valve; Stop
   ends the session.
Screenshots go to tmp_path, or to $CLOPY_DASHBOARD_SCREENSHOTS (docs/img) when set.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from clopy.rosenv import DomainLease, apply_loopback, loopback_env
from clopy_data.session import read_event_log
from test_clnf_graph import bag_messages, no_process_left, session_dir

# Playwright for Python (requirements/browser-test.txt, `scripts/setup.sh --tools`) and Debian's
# chromium (requirements/debian-test.txt, installed by scripts/test.sh): missing ones fail, never skip
import playwright.sync_api as playwright_api  # noqa: E402
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')

MOUSE = 'dash-mouse'
HOT_TOPICS = ('image_raw', 'frame_info', 'control_signal', 'tone')
VIEWER_TOPICS = ('image_preview', 'live_feed')
SETS = ['task.v.initial_rest_s=3.0', 'task.v.success_rest_s=2.0', 'task.v.fail_rest_s=2.0',
        'task.v.max_trial_s=6.0', 'task.v.adaptive_threshold=false', 'task.v.threshold=0.5']
# no name resolution, no background traffic: the browser reaches 127.0.0.1 only
CHROMIUM_ARGS = ['--no-sandbox', '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
                 '--disable-features=MediaRouter,OptimizationHints,Translate', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync']
CLICK_FRAC = (0.45, 0.62)   # where the alignment click lands, as a fraction of the image (x, y)


def _start(args, env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, '-m', 'clopy.cli', *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _read_until(proc: subprocess.Popen, pattern: str, lines: list[str], timeout_s: float = 90.0) -> re.Match:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(pattern, line)
        if m:
            return m
    raise AssertionError(f'no line matching {pattern!r}:\n{"".join(lines)}')


def _stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
    try:
        rest, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate()
    return rest or ''


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)).convert('L'), dtype=np.float32)


@pytest.fixture(scope='module')
def scenario(tmp_path_factory):
    assert CHROMIUM, "no chromium on PATH: Debian's chromium (requirements/debian-test.txt; scripts/test.sh installs it)"
    out = tmp_path_factory.mktemp('dash')
    shots = Path(os.environ.get('CLOPY_DASHBOARD_SCREENSHOTS') or out / 'shots')
    shots.mkdir(parents=True, exist_ok=True)
    saved_env = dict(os.environ)
    lease = DomainLease()
    lease.acquire()
    apply_loopback(lease.domain_id)
    env = loopback_env(lease.domain_id)
    result: dict = {'out': out, 'shots': shots}
    procs: list[subprocess.Popen] = []
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={'width': 1280, 'height': 860})
            page.on('dialog', lambda dialog: dialog.accept())
            _alignment(page, out, env, procs, result)
            _live_session(page, out, env, procs, result)
            _experiment(page, out / 'experiments', env, procs, result)
            browser.close()
    finally:
        for proc in procs:
            result.setdefault('output', []).append(_stop(proc))
        lease.release()
        os.environ.clear()
        os.environ.update(saved_env)
    return result


def _alignment(page, out: Path, env: dict, procs: list, result: dict) -> None:
    import httpx
    lines: list[str] = []
    proc = _start(['dashboard', '--out', str(out), '--mouse', MOUSE, '--host', '0.0.0.0', '--port', '0'], env)
    procs.append(proc)
    url = _read_until(proc, r'dashboard (http://127\.0\.0\.1:\d+)', lines).group(1)
    token = _read_until(proc, r'token (\S+)', lines).group(1)
    body = {'mouse': MOUSE, 'paradigm': 'clnf_1roi', 'bregma_row_px': 150.0, 'bregma_col_px': 110.0}
    result['raw_without_token'] = httpx.post(url + '/api/align', json=body, headers={'Origin': url}).status_code
    result['raw_image_without_token'] = httpx.get(url + '/api/align/image.jpg').status_code
    # the page opened without the token: it shows nothing of the mouse and says why
    page.goto(url + '/align')
    page.wait_for_selector('#message.bad')
    result['page_without_token'] = page.inner_text('#message')
    result['geometry_without_token'] = page.evaluate('window.clopyAlign.geometry')
    result['profile_after_refusal'] = (out / 'subjects' / MOUSE / 'profile.yaml').exists()
    # with the token (as printed): the same click, then Save
    page.goto(f'{url}/align?token={token}')
    page.wait_for_function('window.clopyAlign && window.clopyAlign.geometry !== null && window.clopyAlign.imageLoaded')
    result['roi_before'] = page.evaluate('window.clopyAlign.geometry.rois[0]')
    box = page.locator('#overlay').bounding_box()
    page.mouse.click(box['x'] + box['width'] * CLICK_FRAC[0], box['y'] + box['height'] * CLICK_FRAC[1])
    page.wait_for_function('window.clopyAlign.geometry.bregma[0] !== 135')
    result['roi_after'] = page.evaluate('window.clopyAlign.geometry.rois[0]')
    result['bregma_clicked'] = page.evaluate('window.clopyAlign.geometry.bregma')
    # then the ROI dragged on its own, 20 frame px to the right
    roi, (h, w) = result['roi_after'], page.evaluate('window.clopyAlign.geometry.frame')
    x = box['x'] + (roi['col'] + roi['width'] / 2) * box['width'] / w
    y = box['y'] + (roi['row'] + roi['height'] / 2) * box['height'] / h
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 10 * box['width'] / w, y, steps=3)
    page.mouse.move(x + 20 * box['width'] / w, y, steps=3)
    page.mouse.up()
    result['roi_dragged'] = page.evaluate('window.clopyAlign.geometry.rois[0]')
    page.screenshot(path=str(result['shots'] / 'dashboard-align.png'))
    page.click('#save')
    page.wait_for_selector('#message.ok')
    result['save_with_token'] = page.inner_text('#message')
    result['token_in_page_url'] = token in page.url
    _stop(proc)
    procs.remove(proc)


def _frame_png(page) -> bytes:
    return page.locator('#frame').screenshot()


def _readers_of(domain_id: int, topics: tuple, node_name: str, expected: tuple, timeout_s: float = 30.0) -> dict:
    """{topic: names of the nodes reading it}, seen from a node of the test in the session's
    domain, once every topic has a reader and `node_name` is seen reading every topic of
    `expected` (discovery of the probe's own participant takes a moment on a loaded machine)."""
    import rclpy
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id)
    node = rclpy.create_node('dashboard_test_probe', context=context)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            readers = {t: sorted(i.node_name for i in node.get_subscriptions_info_by_topic('/' + t))
                       for t in topics}
            seen = all(readers.values()) and all(node_name in readers[t] for t in expected)
            if seen or time.monotonic() > deadline:
                return readers
            time.sleep(0.5)
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)


def _live_session(page, out: Path, env: dict, procs: list, result: dict) -> None:
    lines: list[str] = []
    args = ['run', 'clnf_1roi', '--sim', '--mouse', MOUSE, '--trials', '20', '--out', str(out),
            '--dashboard', '--dashboard-port', '0']
    for s in SETS:
        args += ['--set', s]
    proc = _start(args, env)
    procs.append(proc)
    url = _read_until(proc, r'dashboard (http://127\.0\.0\.1:\d+)', lines).group(1)
    page.goto(url)
    page.wait_for_function('window.clopyLive && window.clopyLive.frames >= 2 && window.clopyLive.signalPoints > 0',
                           timeout=90_000)
    first = _frame_png(page)
    points_first = page.evaluate('window.clopyLive.signalPoints')
    page.wait_for_function(f'window.clopyLive.frames >= 6 && window.clopyLive.signalPoints > {points_first + 15}')
    result['frames'] = (_pixels(first), _pixels(_frame_png(page)))
    result['points'] = (points_first, page.evaluate('window.clopyLive.signalPoints'))
    domain_id = int(re.search(r'ROS_DOMAIN_ID=(\d+)', ''.join(lines)).group(1))   # the run's own lease
    result['readers'] = _readers_of(domain_id, HOT_TOPICS + VIEWER_TOPICS, 'dashboard', VIEWER_TOPICS)
    # the threshold: 0.5 (no trial can succeed) -> 0.001 on the page
    page.fill('#var-name', 'threshold')
    page.fill('#var-value', '0.001')
    page.click('#set-var')
    page.wait_for_selector('#message.ok')
    result['set_message'] = page.inner_text('#message')
    page.click('#reward')
    page.wait_for_function("document.getElementById('message').textContent.startsWith('valve')")
    result['reward_message'] = page.inner_text('#message')
    page.wait_for_function('window.clopyLive.status.successes >= 1 && window.clopyLive.counts.rewards >= 2',
                           timeout=60_000)
    page.wait_for_timeout(1500)   # a little more trace to look at
    page.screenshot(path=str(result['shots'] / 'dashboard-live.png'))
    page.click('#stop')
    page.wait_for_selector('#message.ok')
    result['stop_message'] = page.inner_text('#message')
    rest, _ = proc.communicate(timeout=120)
    procs.remove(proc)
    result['run_output'] = ''.join(lines) + rest
    result['returncode'] = proc.returncode


def _experiment(page, data_root: Path, env: dict, procs: list, result: dict) -> None:
    """The experiment page of `clopy dashboard`: the example's grid, day 1 of M1 started from
    the page, then M1's history with its session figure and learning curve."""
    lines: list[str] = []
    proc = _start(['dashboard', '--out', str(data_root), '--port', '0'], env)
    procs.append(proc)
    url = _read_until(proc, r'dashboard (http://127\.0\.0\.1:\d+)', lines).group(1)
    page.goto(url + '/experiments')
    page.click('a[href="/experiments/example"]')
    page.wait_for_selector('#grid')
    result['grid_before'] = page.inner_text('#grid')
    row = page.locator('#grid tr', has_text='M1')
    row.locator('button[type=submit]').click()
    result['after_start_url'] = page.url
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:   # the run holds its locks; the page shows it until it is done
        page.goto(url + '/experiments/example')
        cells = page.locator('#grid tr', has_text='M1').locator('td').all_inner_texts()
        result.setdefault('grid_seen', []).append(cells)
        if 'ok' in cells or 'X' in cells:
            break
        page.wait_for_timeout(2000)
    result['grid_after'] = page.inner_text('#grid')
    page.screenshot(path=str(result['shots'] / 'dashboard-experiment.png'), full_page=True)
    page.click('a[href="/experiments/example/subjects/M1"]')
    page.wait_for_selector('#curve')
    page.wait_for_function("[...document.images].every(i => i.complete)")
    result['images'] = page.evaluate("[...document.images].map(i => [i.id || i.alt, i.naturalWidth])")
    result['subject_page'] = page.inner_text('body')
    page.screenshot(path=str(result['shots'] / 'dashboard-experiment-subject.png'), full_page=True)
    _stop(proc)
    procs.remove(proc)


def test_the_experiment_page_starts_a_day_and_shows_its_history(scenario):
    grid = scenario['grid_before']
    assert 'M1' in grid and 'M2' in grid and 'due' in grid, grid
    after = [row for row in scenario['grid_after'].splitlines() if row.startswith('M1')]
    assert after and '\tok\t' in after[0] + '\t' and 'day 2' in after[0], scenario['grid_after']
    images = dict(scenario['images'])
    assert images['curve'] > 100 and images['summary of day 1'] > 100, images
    assert 'day 1: finished' in scenario['subject_page']


def test_without_the_token_a_change_is_refused_off_loopback(scenario):
    assert scenario['raw_without_token'] == 401
    assert scenario['raw_image_without_token'] == 401
    assert 'token' in scenario['page_without_token'] and scenario['geometry_without_token'] is None
    assert not scenario['profile_after_refusal']
    assert not scenario['token_in_page_url']   # taken out of the address bar


def test_an_alignment_click_moves_the_roi_and_the_next_session_uses_it(scenario):
    before, after = scenario['roi_before'], scenario['roi_after']
    assert (after['row'], after['col']) != (before['row'], before['col'])
    assert 'next session' in scenario['save_with_token']
    row, col = scenario['bregma_clicked']
    params = yaml.safe_load((session_dir(scenario['out']) / 'parameters.yaml').read_text())
    roi = params['roi_dff']['ros__parameters']
    assert roi['bregma_row_px'] == pytest.approx(row, abs=0.06)
    assert roi['bregma_col_px'] == pytest.approx(col, abs=0.06)
    assert row != 135.0 and col != 128.0
    dragged = scenario['roi_dragged']
    assert dragged['col'] == after['col'] + 20 and dragged['row'] == after['row']
    assert roi['rois'] == [f"M1_L={dragged['row']},{dragged['col']},{dragged['height']},{dragged['width']}"]


def test_the_image_is_not_blank_and_changes(scenario):
    a, b = scenario['frames']
    assert a.std() > 5 and b.std() > 5
    assert np.abs(a - b).mean() > 0.5


def test_the_page_adds_no_reader_to_the_hot_path_topics(scenario):
    """The dashboard reads the camera's preview and the recorder's batches, never the
    topics the closed loop waits on (each extra reader is one more delivery before the
    publishing node goes on)."""
    readers = scenario['readers']
    for topic in VIEWER_TOPICS:
        assert 'dashboard' in readers[topic], readers
    for topic in HOT_TOPICS:
        assert readers[topic] and 'dashboard' not in readers[topic], (topic, readers)


def test_the_signal_trace_grows(scenario):
    first, later = scenario['points']
    assert later > first + 15


def test_a_threshold_set_on_the_page_is_logged_and_changes_the_task(scenario):
    d = session_dir(scenario['out'])
    log = read_event_log(d / 'events.tsv')
    changes = log[(log.type == 'variable') & (log.subtype == 'api')]
    assert list(changes.content) == ['{"threshold": 0.001}'], scenario['set_message']
    changed_at = float(changes.time.iloc[0])
    notes = list(log[(log.type == 'info') & (log.subtype == 'dashboard')].content)
    assert 'set variable threshold = 0.001: done' in notes
    # at 0.5 no trial succeeds; after the change, trials do
    commands = bag_messages(d, 'reward')
    successes = [m for m in commands if m.output == 0 and m.reason == 'success']
    assert successes
    events = bag_messages(d, 'task_event')
    success_times = [m.time_s for m in events if m.type == 'state' and m.content == 'success_rest']
    assert success_times and min(success_times) > changed_at


def test_the_manual_reward_button_opens_the_valve(scenario):
    d = session_dir(scenario['out'])
    manual = [m for m in bag_messages(d, 'reward_event') if m.output == 0 and m.reason == 'manual']
    assert [m.opened for m in manual if m.delivered] == [True, False], scenario['reward_message']
    notes = list(read_event_log(d / 'events.tsv').query("subtype == 'dashboard'").content)
    assert any(n.startswith('manual reward') and n.endswith('delivered') for n in notes)


def test_stop_on_the_page_ends_the_session_as_stopped_by_the_user(scenario):
    d = session_dir(scenario['out'])
    assert 'session ended: stopped by the user' in scenario['run_output'], scenario['run_output']
    assert scenario['returncode'] == 0, scenario['run_output']
    log = read_event_log(d / 'events.tsv')
    assert list(log[log.subtype == 'end_reason'].content) == ['stopped by the user']
    assert 'stop the session' in list(log[log.subtype == 'dashboard'].content)
    assert list(log[log.subtype == 'stop_session'].content) == ['stopped by the user (stop_session service)']
    assert no_process_left(d) == []
