"""Task engine semantics (pyControl model, time only from arguments)."""

import json
import textwrap
import time

import pytest

from clopy_task.engine import RecordingOutputs, TaskEngine, TaskError, TaskFileError

FPS = 15.0


API_IMPORT = 'from clopy_task.api import *\n'


def write_task(tmp_path, body, name='task.py'):
    """A task file: the task API import, then ``body``."""
    path = tmp_path / name
    path.write_text(API_IMPORT + textwrap.dedent(body))
    return path


def engine_for(tmp_path, body, variables=None, **kwargs):
    return TaskEngine(write_task(tmp_path, body), variables, frame_rate_hz=FPS, **kwargs)


def log(engine, *types):
    """(time_s, type, content) of the records of the given types."""
    return [(r.time_s, r.type, r.content) for r in engine.records if not types or r.type in types]


TWO_STATES = """
    states = ['a', 'b', 'c']
    events = ['go', 'ping', 'pause', 'resume']
    initial_state = 'a'

    def a(event):
        if event in ('entry', 'exit'):
            print('a', event)
        if event == 'entry':
            timed_goto_state('c', 2.0)
            set_timer('ping', 3.0)
        elif event == 'go':
            goto_state('b')

    def b(event):
        if event in ('entry', 'exit', 'ping'):
            print('b', event)

    def c(event):
        if event == 'entry':
            print('c entry')
"""


def test_exit_of_the_old_state_runs_before_entry_of_the_new_one(tmp_path):
    engine = engine_for(tmp_path, TWO_STATES)
    engine.start(100.0)
    engine.trigger_event('go', 100.5)
    assert log(engine, 'state', 'print', 'event') == [
        (0.0, 'state', 'a'), (0.0, 'print', 'a entry'),
        (0.5, 'event', 'go'), (0.5, 'print', 'a exit'),
        (0.5, 'state', 'b'), (0.5, 'print', 'b entry'),
    ]


def test_timed_goto_fires_at_its_due_time_between_frames(tmp_path):
    engine = engine_for(tmp_path, TWO_STATES)
    engine.start(0.0)
    engine.process_frame(1.9, 0, 0.0)
    assert engine.state == 'a'
    engine.process_frame(2.7, 1, 0.0)  # the transition is logged at 2.0, not at the frame
    assert engine.state == 'c'
    assert (2.0, 'state', 'c') in log(engine, 'state')


def test_a_transition_cancels_the_timed_goto_but_set_timer_survives(tmp_path):
    engine = engine_for(tmp_path, TWO_STATES)
    engine.start(0.0)
    engine.trigger_event('go', 1.0)
    for i in range(1, 76):
        engine.process_frame(i / FPS, i, 0.0)
    assert engine.state == 'b'  # never went to 'c'
    assert (3.0, 'print', 'b ping') in log(engine, 'print')  # timer set in 'a', fired in 'b'
    timer_events = [r for r in engine.records if r.type == 'event' and r.subtype == 'timer']
    assert [(r.time_s, r.content) for r in timer_events] == [(3.0, 'ping')]


def test_pause_and_unpause_keep_the_remaining_time(tmp_path):
    engine = engine_for(tmp_path, """
        states = ['s']
        events = ['ping', 'pause', 'resume']
        initial_state = 's'
        v.left_s = -1.0

        def s(event):
            if event == 'entry':
                set_timer('ping', 5.0)
            elif event == 'pause':
                pause_timer('ping')
            elif event == 'resume':
                v.left_s = timer_remaining('ping')
                unpause_timer('ping')
    """)
    engine.start(0.0)
    engine.trigger_event('pause', 1.0)
    engine.advance(20.0)  # paused: nothing fires however long we wait
    assert not [r for r in engine.records if r.content == 'ping']
    engine.trigger_event('resume', 30.0)
    assert engine.variables['left_s'] == 4.0
    engine.advance(40.0)
    pings = [(r.time_s, r.subtype) for r in engine.records if r.content == 'ping']
    assert pings == [(34.0, 'timer')]


def test_timers_fire_in_due_time_order_before_the_frame(tmp_path):
    engine = engine_for(tmp_path, """
        states = ['s']
        events = ['t1', 't2', 't3', 'again']
        initial_state = 's'

        def s(event):
            if event == 'entry':
                set_timer('t2', 0.25)
                set_timer('t1', 0.1)
                set_timer('t3', 0.3)
                set_timer('t1', 0.3)  # several timers per event; ties fire in the order set
                reset_timer('again', 0.5)  # due exactly at the frame: fires before it
            elif event == 'frame':
                print('frame', signal.frame_index)
            elif event == 't1' and get_current_time() < 0.2:
                set_timer('t2', 0.05)  # a timer set while catching up fires in its turn
    """)
    engine.start(0.0)
    engine.process_frame(0.5, 7, 1.0)
    got = [(r.time_s, r.content) for r in engine.records if r.type in ('event', 'print')]
    assert got == [(0.1, 't1'), (pytest.approx(0.15), 't2'), (0.25, 't2'), (0.3, 't3'),
                   (0.3, 't1'), (0.5, 'again'), (0.5, 'frame 7')]
    times = [r.time_s for r in engine.records]
    assert times == sorted(times)


def test_disarm_timer_removes_every_timer_of_the_event(tmp_path):
    engine = engine_for(tmp_path, """
        states = ['s']
        events = ['ping', 'stop_pings']
        initial_state = 's'

        def s(event):
            if event == 'entry':
                set_timer('ping', 1.0)
                set_timer('ping', 2.0)
            elif event == 'stop_pings':
                disarm_timer('ping')
    """)
    engine.start(0.0)
    engine.trigger_event('stop_pings', 0.5)
    engine.advance(10.0)
    assert not [r for r in engine.records if r.content == 'ping']


def test_all_states_sees_events_first_and_can_veto(tmp_path):
    engine = engine_for(tmp_path, """
        states = ['s']
        events = ['mine', 'shared']
        initial_state = 's'

        def all_states(event):
            if event in ('mine', 'shared'):
                print('all_states', event)
            return event == 'mine'

        def s(event):
            if event in ('mine', 'shared'):
                print('s', event)
    """)
    engine.start(0.0)
    engine.trigger_event('mine', 1.0)
    engine.trigger_event('shared', 2.0, subtype='api')
    prints = [c for _, t, c in log(engine, 'print')]
    assert prints == ['all_states mine', 'all_states shared', 's shared']
    assert [(r.subtype, r.content) for r in engine.records if r.type == 'event'] == [
        ('user', 'mine'), ('api', 'shared')]


def test_published_events_are_delivered_after_the_current_handler(tmp_path):
    engine = engine_for(tmp_path, """
        states = ['s']
        events = ['done_thinking']
        initial_state = 's'

        def s(event):
            if event == 'frame':
                publish_event('done_thinking')
                print('handler finished')
            elif event == 'done_thinking':
                print('got it')
    """)
    engine.start(0.0)
    engine.process_frame(0.1, 0, 0.0)
    got = [(r.type, r.subtype, r.content) for r in engine.records if r.type in ('print', 'event')]
    assert got == [('print', 'task', 'handler finished'), ('event', 'publish', 'done_thinking'),
                   ('print', 'task', 'got it')]


def test_the_frame_event_is_delivered_but_not_logged(tmp_path):
    engine = engine_for(tmp_path, """
        states = ['s']
        events = []
        initial_state = 's'
        v.frames = 0

        def s(event):
            if event == 'frame':
                v.frames += 1
    """)
    engine.start(0.0)
    for i in range(10):
        engine.process_frame(i / FPS, i, 0.0)
    assert engine.variables['frames'] == 10
    assert not [r for r in engine.records if r.type == 'event']


# --- variables -------------------------------------------------------------------------

VARIABLES_TASK = """
    states = ['s']
    events = ['bump']
    initial_state = 's'
    v.threshold = 0.075
    v.total_trials = 60
    v.adaptive_threshold = True
    v.session_type = 'graded'
    v.anything = None
    v.hidden___ = 0

    def s(event):
        if event == 'bump':
            v.threshold = 0.077
            v.hidden___ += 1
            v.total_trials = 60  # unchanged: not logged
"""


def test_overrides_apply_after_defaults_with_sensible_number_conversion(tmp_path):
    overrides = {'threshold': 1, 'total_trials': 40.0, 'anything': [1, 2]}
    engine = engine_for(tmp_path, VARIABLES_TASK, overrides)
    assert engine.variables == {'threshold': 1.0, 'total_trials': 40, 'adaptive_threshold': True,
                                'session_type': 'graded', 'anything': [1, 2]}
    assert isinstance(engine.variables['threshold'], float)
    assert isinstance(engine.variables['total_trials'], int)


@pytest.mark.parametrize('key, value, text', [
    ('thresold', 0.1, "thresold=0.1"),
    ('hidden___', 1, "hidden___=1"),
    ('adaptive_threshold', 1, 'adaptive_threshold=1: allowed: a bool like the default True'),
    ('total_trials', 40.5, 'total_trials=40.5: allowed: a int like the default 60'),
    ('threshold', '0.1', "threshold='0.1': allowed: a float"),
    ('threshold', True, 'threshold=True'),
    ('session_type', 3, 'session_type=3: allowed: a str'),
])
def test_bad_overrides_name_the_file_the_key_and_the_value(tmp_path, key, value, text):
    with pytest.raises(TaskFileError) as info:
        engine_for(tmp_path, VARIABLES_TASK, {key: value})
    assert str(tmp_path / 'task.py') in str(info.value)
    assert text in str(info.value)


def test_variable_changes_are_logged_with_their_source(tmp_path):
    engine = engine_for(tmp_path, VARIABLES_TASK)
    engine.start(10.0)
    engine.trigger_event('bump', 11.0)
    engine.set_variable('total_trials', 30, 12.0)
    engine.stop(13.0)
    variable_records = [(r.time_s, r.subtype, json.loads(r.content)) for r in engine.records
                        if r.type == 'variable']
    snapshot_start = {'threshold': 0.075, 'total_trials': 60, 'adaptive_threshold': True,
                      'session_type': 'graded', 'anything': None}
    assert variable_records == [
        (0.0, 'run_start', snapshot_start),
        (1.0, 'task', {'threshold': 0.077}),
        (2.0, 'api', {'total_trials': 30}),
        (3.0, 'run_end', {**snapshot_start, 'threshold': 0.077, 'total_trials': 30}),
    ]


def test_set_variable_rejects_unknown_and_mistyped_values(tmp_path):
    engine = engine_for(tmp_path, VARIABLES_TASK)
    engine.start(0.0)
    with pytest.raises(TaskError, match="set_variable thresh=1"):
        engine.set_variable('thresh', 1, 1.0)
    with pytest.raises(TaskError, match="adaptive_threshold='yes'"):
        engine.set_variable('adaptive_threshold', 'yes', 1.0)


def test_a_task_assigning_an_undefined_variable_is_an_error(tmp_path):
    engine = engine_for(tmp_path, """
        states = ['s']
        events = []
        initial_state = 's'
        v.successes = 0

        def s(event):
            if event == 'frame':
                v.sucesses = 1
    """)
    engine.start(0.0)
    with pytest.raises(TaskError, match=r'v\.sucesses = 1: no such variable'):
        engine.process_frame(0.1, 0, 0.0)
    assert engine.stopped
    assert [r.type for r in engine.records][-3:] == ['error', 'variable', 'info']


# --- errors ----------------------------------------------------------------------------

def test_goto_inside_entry_is_an_error(tmp_path):
    engine = engine_for(tmp_path, """
        states = ['a', 'b']
        events = []
        initial_state = 'a'

        def a(event):
            if event == 'entry':
                goto_state('b')

        def b(event):
            pass
    """)
    with pytest.raises(TaskError, match="goto_state\\('b'\\) called during entry/exit"):
        engine.start(0.0)
    assert engine.stopped


@pytest.mark.parametrize('call, text', [
    ("goto_state('trail')", "goto_state('trail'): no such state"),
    ("timed_goto_state('trail', 1.0)", "timed_goto_state('trail'): no such state"),
    ("set_timer('tick', 1.0)", "set_timer('tick'): no such event"),
    ("publish_event('tick')", "publish_event('tick'): no such event"),
    ("set_timer('tock', -1.0)", "t_s=-1.0"),
])
def test_unknown_names_are_task_errors_naming_the_file_and_the_name(tmp_path, call, text):
    engine = engine_for(tmp_path, f"""
        states = ['trial']
        events = ['tock']
        initial_state = 'trial'

        def trial(event):
            if event == 'frame':
                {call}
    """)
    engine.start(0.0)
    with pytest.raises(TaskError) as info:
        engine.process_frame(0.1, 0, 0.0)
    assert str(tmp_path / 'task.py') in str(info.value) and text in str(info.value)


def test_trigger_event_with_an_unknown_name_is_rejected(tmp_path):
    engine = engine_for(tmp_path, TWO_STATES)
    engine.start(0.0)
    with pytest.raises(TaskError, match="trigger_event\\('goo'\\): no such event"):
        engine.trigger_event('goo', 1.0)


@pytest.mark.parametrize('body, text', [
    ("states = ['a']\nevents = []\ninitial_state = 'b'\ndef a(event): pass\n",
     "initial_state = 'b'"),
    ("states = ['a']\nevents = []\ninitial_state = 'a'\n", "state 'a' has no function"),
    ("states = 'a'\nevents = []\ninitial_state = 'a'\ndef a(event): pass\n", "states = 'a'"),
    ("states = ['a']\nevents = []\ninitial_state = 'a'\n1 / 0\n", 'ZeroDivisionError'),
    ("states = ['a'\n", 'SyntaxError'),
])
def test_broken_task_files_are_reported_with_the_file_name(tmp_path, body, text):
    with pytest.raises(TaskFileError) as info:
        TaskEngine(write_task(tmp_path, body), frame_rate_hz=FPS)
    assert str(tmp_path / 'task.py') in str(info.value) and text in str(info.value)


def test_an_exception_in_the_task_stops_the_run_with_the_tone_off(tmp_path):
    outputs = RecordingOutputs()
    engine = engine_for(tmp_path, """
        states = ['s']
        events = []
        initial_state = 's'

        def s(event):
            if event == 'frame':
                tone(2000)
                if signal.value > 1:
                    [][1]
    """, outputs=outputs)
    engine.start(0.0)
    engine.process_frame(0.1, 0, 0.0)
    with pytest.raises(TaskError, match=r"task\.py: s\(frame\) raised IndexError"):
        engine.process_frame(0.2, 1, 5.0)
    assert engine.stopped
    assert [c[-1] for c in outputs.of_kind('tone')] == [2000, 0.0]
    engine.process_frame(0.3, 2, 5.0)  # frames after the end are ignored
    assert engine.records[-1].type == 'info'


# --- time and reproducibility ----------------------------------------------------------

DRIFTING_TASK = """
    states = ['wait', 'go']
    events = ['tick']
    initial_state = 'wait'
    v.seed = 3
    v.count = 0

    def run_start():
        set_timer('tick', 0.7)

    def all_states(event):
        if event == 'tick':
            v.count += 1
            set_timer('tick', 0.7)

    def wait(event):
        if event == 'frame' and signal.value + random() > 1.5:
            goto_state('go')

    def go(event):
        if event == 'entry':
            reward(0.1)
            timed_goto_state('wait', 1.0)
"""


def run_drifting(tmp_path, seed=3):
    outputs = RecordingOutputs()
    engine = TaskEngine(write_task(tmp_path, DRIFTING_TASK, 'drift.py'), {'seed': seed},
                        frame_rate_hz=FPS, outputs=outputs)
    engine.start(1000.0)
    for i in range(300):
        engine.process_frame(1000.0 + i / FPS, i, (i % 20) / 20)
    engine.stop(1000.0 + 20.0)
    return engine.records, outputs.calls


def test_same_inputs_give_identical_records_without_reading_a_clock(tmp_path, monkeypatch):
    first = run_drifting(tmp_path)

    def no_clock(*args):
        raise AssertionError('the engine read a clock')

    for name in ('time', 'monotonic', 'perf_counter', 'time_ns', 'monotonic_ns'):
        monkeypatch.setattr(time, name, no_clock)
    second = run_drifting(tmp_path)
    assert first == second
    assert len(first[1]) > 3  # the run did something worth comparing
    assert run_drifting(tmp_path, seed=4)[1] != first[1]  # and the seed matters


def test_late_stamps_never_make_time_go_backwards(tmp_path):
    engine = engine_for(tmp_path, TWO_STATES)
    engine.start(0.0)
    engine.process_frame(1.0, 0, 0.0)
    engine.trigger_event('go', 0.8)  # stamped before the last frame
    assert engine.time_s == 1.0
    warnings = [r for r in engine.records if r.type == 'warning']
    assert len(warnings) == 1 and 'trigger_event' in warnings[0].content
    times = [r.time_s for r in engine.records]
    assert times == sorted(times)


def test_repeated_or_older_frame_indices_are_not_delivered(tmp_path):
    engine = engine_for(tmp_path, """
        states = ['s']
        events = []
        initial_state = 's'
        v.frames = 0

        def s(event):
            if event == 'frame':
                v.frames += 1
    """)
    engine.start(0.0)
    engine.process_frame(0.1, 5, 1.0)
    engine.process_frame(0.2, 5, 2.0)
    assert engine.variables['frames'] == 1 and engine.signal.value == 1.0
    warnings = [r.content for r in engine.records if r.type == 'warning']
    assert warnings == ['frame 5 after frame 5: ignored']


# --- signal.delayed --------------------------------------------------------------------

SILENT = """
    states = ['s']
    events = []
    initial_state = 's'

    def s(event):
        pass
"""


def feed(engine, indices, value=lambda i: 100.0 + i, invalid=()):
    for i in indices:
        engine.process_frame(i / FPS, i, value(i), valid=i not in invalid)


def test_delay_of_one_second_at_15_fps_looks_15_frames_back(tmp_path):
    engine = engine_for(tmp_path, SILENT)
    engine.start(0.0)
    feed(engine, range(15))
    assert engine.signal.delayed(1.0) == 0.0  # frame 14: the delay line is not full yet
    feed(engine, [15])
    assert engine.signal.delayed(1.0) == 100.0  # frame 15 sees frame 0
    assert engine.signal.delayed(0.0) == 115.0 == engine.signal.value
    feed(engine, [16])
    assert engine.signal.delayed(1.0) == 101.0


def test_dropped_frames_read_as_the_latest_frame_before_them(tmp_path):
    engine = engine_for(tmp_path, SILENT)
    engine.start(0.0)
    feed(engine, [i for i in range(21) if i not in (5, 6)])
    assert engine.signal.delayed(1.0) == 104.0  # frame 20 -> frame 5, dropped -> frame 4
    feed(engine, [21])
    assert engine.signal.delayed(1.0) == 104.0  # frame 21 -> frame 6, dropped -> frame 4
    feed(engine, [22])
    assert engine.signal.delayed(1.0) == 107.0  # frame 22 -> frame 7


def test_invalid_and_nan_frames_count_as_zero(tmp_path):
    engine = engine_for(tmp_path, SILENT)
    engine.start(0.0)
    feed(engine, range(19), invalid={3})
    assert engine.signal.delayed(1.0) == 0.0  # frame 18 -> frame 3, invalid
    engine.process_frame(19 / FPS, 19, float('nan'))
    assert engine.signal.value == 0.0 and not engine.signal.valid
    assert engine.signal.delayed(1.0) == 104.0  # frame 19 -> frame 4
    feed(engine, range(20, 35))
    assert engine.signal.delayed(1.0) == 0.0  # frame 34 -> frame 19, NaN


def test_delays_longer_than_the_default_history_still_work(tmp_path):
    engine = engine_for(tmp_path, SILENT)
    engine.start(0.0)
    engine.signal.delayed(100.0)  # asking once sizes the history for 100 s
    feed(engine, range(1600))
    assert engine.signal.delayed(100.0) == 100.0 + 1599 - 1500


# --- outputs, stop ---------------------------------------------------------------------

OUTPUT_TASK = """
    states = ['s']
    events = ['pay', 'fail', 'finish']
    initial_state = 's'
    v.threshold = 0.075
    v.valve_pulse_s = 0.3
    v.fail_pulse_s = 0.5
    tone_variables = {'threshold': 'threshold'}
    pulse_variables = {'reward': 'valve_pulse_s', 'fail_signal': 'fail_pulse_s'}

    def run_end():
        print('run_end called')
        print_variables(['threshold'])

    def s(event):
        if event == 'frame':
            tone(tone_for(signal.value))
        elif event == 'pay':
            reward()
        elif event == 'fail':
            fail_signal(reason='lick_early')
        elif event == 'finish':
            stop_framework()
"""


def test_outputs_use_variable_defaults_and_the_callers_clock(tmp_path):
    outputs = RecordingOutputs()
    engine = engine_for(tmp_path, OUTPUT_TASK, outputs=outputs)
    engine.start(500.0)
    engine.process_frame(500.5, 7, 0.0)
    engine.trigger_event('pay', 501.0)
    engine.trigger_event('fail', 502.0)
    assert outputs.calls == [('tone', 500.5, 7, 1189), ('reward', 501.0, 7, 0.3, 'success'),
                             ('fail_signal', 502.0, 7, 0.5, 'lick_early')]


def test_tone_commands_repeat_only_on_change_and_follow_a_new_threshold(tmp_path):
    outputs = RecordingOutputs()
    engine = engine_for(tmp_path, OUTPUT_TASK, outputs=outputs)
    engine.start(0.0)
    for i, value in enumerate([0.076, 0.076, 0.076]):
        engine.process_frame(i / FPS, i, value)
    engine.set_variable('threshold', 0.08, 0.2)
    engine.process_frame(0.3, 3, 0.076)
    assert [c[3] for c in outputs.of_kind('tone')] == [19027, 16000]


def test_stop_framework_ends_the_run_once_with_run_end_and_the_tone_off(tmp_path):
    outputs = RecordingOutputs()
    engine = engine_for(tmp_path, OUTPUT_TASK, outputs=outputs)
    engine.start(0.0)
    engine.process_frame(0.1, 0, 0.02)
    engine.trigger_event('finish', 1.0)
    assert engine.stopped
    engine.process_frame(1.1, 1, 0.05)  # ignored
    engine.stop(2.0)  # idempotent
    assert [c[3] for c in outputs.of_kind('tone')] == [2378, 0.0]
    tail = [(r.time_s, r.type, r.subtype, r.content) for r in engine.records][-4:]
    assert tail == [(1.0, 'print', 'task', 'run_end called'),
                    (1.0, 'variable', 'print', '{"threshold": 0.075}'),
                    (1.0, 'variable', 'run_end', '{"threshold": 0.075, "valve_pulse_s": 0.3, '
                                                 '"fail_pulse_s": 0.5}'),
                    (1.0, 'info', 'end_time_s', '1.0')]
    with pytest.raises(RuntimeError, match='after the run ended'):
        engine.trigger_event('pay', 3.0)


def test_stop_fires_due_timers_first_and_records_start_information(tmp_path):
    engine = engine_for(tmp_path, TWO_STATES)
    engine.start(10.0)
    engine.stop(12.5)
    assert entries_of(engine, 'state') == [(0.0, 'a'), (2.0, 'c')]
    info = {r.subtype: r.content for r in engine.records if r.type == 'info'}
    assert info['task_file'] == str(tmp_path / 'task.py')
    assert len(info['task_sha256']) == 64 and info['start_time_s'] == '10.0'
    assert info['end_time_s'] == '12.5'


def entries_of(engine, type_):
    return [(r.time_s, r.content) for r in engine.records if r.type == type_]


def test_calls_before_start_are_errors(tmp_path):
    engine = engine_for(tmp_path, TWO_STATES)
    with pytest.raises(RuntimeError, match='before start'):
        engine.process_frame(0.0, 0, 0.0)
    assert not engine.started and engine.start_time_s is None
    engine.start(42.0)
    engine.advance(43.5)
    assert engine.started and engine.start_time_s == 42.0 and engine.time_s == 1.5
