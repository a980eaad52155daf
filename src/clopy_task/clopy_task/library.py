"""What the CLNF and CLMF task files share: trials, outcomes, feedback, adaptive threshold.

A task file imports it explicitly (``from clopy_task import library``) next to the task
API. The helpers read and write the task's own variables, which a task using them
defines (the names below):

  trial_n, total_trials, successes, failures, successes_in_window___   counters
  max_trial_s, success_rest_s, fail_rest_s                              trial and rests (s)
  threshold, reward_delay_s                                             the success test
  valve_pulse_s, fail_pulse_s                                           output pulses (s)
  n_tones, tone_mapping, tone_range, fixed_tone_hz                      feedback tone
  adaptive_threshold, threshold_step, threshold_floor, adapt_window_s   adaptive threshold
  session_type, random_reward_p                                         control groups
  consumption_window_s, trial_licks, reward_licks                       licks (below)

States the helpers go to: 'success_rest', 'fail_rest', 'done' and the task's trial state.
Events the task declares: ``EVENTS`` ('adapt_threshold', 'crossed', 'lick').

Licks: the task node delivers each touch of the lick spout as the input event 'lick'
(at the touch's time). The helpers count them without adding records to a session
without licks: ``trial_licks`` is set when a trial ends (licks during that trial),
``reward_licks`` when the next trial starts or the session is done (licks within
``consumption_window_s`` of the last reward: consumption). A variable record is written
only when a value changes, so each trial's count is the latest value at its end.

Session types (control groups):
  graded        graded tone, reward on threshold crossing (the normal session)
  fixed_tone    one tone of `fixed_tone_hz` during trials, reward on threshold crossing
  no_audio      silent trials, reward on threshold crossing
  random_reward graded tone; each trial frame is rewarded with probability
                `random_reward_p` instead of the threshold test
  no_reward     graded tone; crossings end the trial and are logged, the valve stays shut

The threshold test is a signal watch (the signal from `reward_delay_s` ago strictly above
`threshold`, both read on every frame), so the engine can skip frames offline; only
random_reward trials take every frame.
"""

from clopy_task.api import (TaskError, fail_signal, feedback_tone, get_current_time, goto_state, random,
                            request_frames, reward, set_timer, stop_framework, timed_goto_state,
                            tone_for, tone_off, v, watch_signal)
from clopy_task.api import print as task_print
from clopy_task.threshold import ThresholdAdapter
from clopy_task.tones import TONE_MAPPINGS, TONE_RANGES

SESSION_TYPES = ('graded', 'fixed_tone', 'no_audio', 'random_reward', 'no_reward')
EVENTS = ['adapt_threshold', 'crossed', 'lick']

#: SessionStatus field -> task variable (the task node publishes these).
STATUS_VARIABLES = {'trial': 'trial_n', 'total_trials': 'total_trials', 'successes': 'successes',
                    'failures': 'failures', 'threshold': 'threshold',
                    'session_type': 'session_type'}
#: ToneMapper field -> task variable (tone_for and the graded feedback tone).
TONE_VARIABLES = {'threshold': 'threshold', 'n_tones': 'n_tones', 'mapping': 'tone_mapping',
                  'tone_range': 'tone_range'}
#: default pulse lengths of reward() and fail_signal().
PULSE_VARIABLES = {'reward': 'valve_pulse_s', 'fail_signal': 'fail_pulse_s'}

_SECONDS = {'min': 0.0, 'unit': 's'}
#: What the shared variables allow (a task file's ``variable_limits``): the pre-flight
#: check of `clopy run` and `ros2 param set /task v.<name>` refuse anything else.
VARIABLE_LIMITS = {
    **{name: dict(_SECONDS) for name in ('initial_rest_s', 'max_trial_s', 'success_rest_s', 'fail_rest_s',
                                         'reward_delay_s', 'valve_pulse_s', 'fail_pulse_s', 'adapt_window_s',
                                         'consumption_window_s')},
    'total_trials': {'min': 1},
    'threshold': {'gt': 0.0},   # the tone maps the signal up to it: 0 has no tone range
    'threshold_step': {'min': 0.0},
    'threshold_floor': {'min': 0.0},
    'n_tones': {'min': 1, 'max': 1000},
    'tone_mapping': {'choices': TONE_MAPPINGS},
    'tone_range': {'choices': TONE_RANGES},
    'fixed_tone_hz': {'gt': 0.0, 'max': 100000.0, 'unit': 'Hz'},
    'session_type': {'choices': SESSION_TYPES},
    'random_reward_p': {'min': 0.0, 'max': 1.0},
    'seed': {'min': 0},
    'trial_n': {'min': 0},
    'successes': {'min': 0},
    'failures': {'min': 0},
    'trial_licks': {'min': 0},
    'reward_licks': {'min': 0},
}


def define_session_variables():
    """Define, at the top of a task file, the session type, random_reward's probability, the
    seed and the counters the helpers keep (each a logged variable; the last is private)."""
    v.session_type = 'graded'
    v.random_reward_p = 0.002  # per trial frame, random_reward sessions only
    v.seed = 0
    v.trial_n = 0
    v.successes = 0
    v.failures = 0
    v.successes_in_window___ = 0  # successes since the last threshold adaptation
    v.consumption_window_s = 2.0  # licks this long after a reward count as reward_licks
    v.trial_licks = 0             # licks in the latest finished trial
    v.reward_licks = 0            # licks in the consumption window of the latest reward
    v.licks_in_trial___ = 0
    v.licks_after_reward___ = 0
    v.reward_time___ = -1.0       # task time of the latest reward (< 0: none yet)


def check_and_start():
    """run_start(): check the session type and tone settings; start the adaptation windows."""
    if v.session_type not in SESSION_TYPES:
        raise TaskError(f"session_type={v.session_type!r}; allowed: {', '.join(SESSION_TYPES)}")
    tone_for(0.0)  # checks threshold and tone settings now, not at the first trial
    if v.adaptive_threshold:
        if not v.threshold_floor > 0:
            raise TaskError(f'threshold_floor={v.threshold_floor!r}; allowed: > 0 '
                            '(the tone mapping needs a positive threshold)')
        ThresholdAdapter(step=v.threshold_step, floor=v.threshold_floor)  # checks the step
        set_timer('adapt_threshold', v.adapt_window_s)


def adapt_threshold(event):
    """all_states(): on 'adapt_threshold' move the threshold one step; True = handled.

    The adaptation window runs on session time, across trials and rests: more than one
    success in the window raises the threshold, none lowers it (not below the floor).
    """
    if event != 'adapt_threshold':
        return False
    adapter = ThresholdAdapter(step=v.threshold_step, floor=v.threshold_floor)
    v.threshold = adapter.next_threshold(v.threshold, v.successes_in_window___)
    v.successes_in_window___ = 0
    set_timer('adapt_threshold', v.adapt_window_s)
    return True


def count_lick(event):
    """all_states(): count a 'lick' in the consumption window of the latest reward.
    Returns False: the state sees the lick too (a trial counts it, a task may react)."""
    if event == 'lick' and v.reward_time___ >= 0 \
            and get_current_time() - v.reward_time___ <= v.consumption_window_s:
        v.licks_after_reward___ += 1
    return False


def publish_reward_licks():
    """reward_licks := the licks counted in the latest reward's window (logged on change)."""
    if v.reward_time___ >= 0:
        v.reward_licks = v.licks_after_reward___


def end_trial_licks():
    """A trial ended: trial_licks := its licks (logged on change)."""
    v.trial_licks = v.licks_in_trial___


def feedback_kind():
    """The trial's feedback tone for the session type: 'graded', 'off' or fixed Hz."""
    if v.session_type == 'no_audio':
        return 'off'
    if v.session_type == 'fixed_tone':
        return v.fixed_tone_hz
    return 'graded'


def start_trial():
    """Trial entry: count it, arm the timeout, the success test and the feedback tone.

    The tone follows the current (not delayed) signal on every frame of the trial.
    """
    v.trial_n += 1
    publish_reward_licks()
    v.licks_in_trial___ = 0
    timed_goto_state('fail_rest', v.max_trial_s)  # timeout
    if v.session_type == 'random_reward':
        request_frames()  # one draw per trial frame
    else:
        watch_signal('crossed', above='threshold', delay_s='reward_delay_s')
    feedback_tone(feedback_kind())


def trial_event(event):
    """Trial events: a threshold crossing, (random_reward) a frame's draw, a lick."""
    if event == 'lick':
        v.licks_in_trial___ += 1
    elif event == 'crossed':
        succeed()
    elif event == 'frame' and v.session_type == 'random_reward':
        if random() < v.random_reward_p:
            succeed()


def succeed():
    """Count a success, reward it (not in no_reward sessions), go to the success rest."""
    v.successes += 1
    v.successes_in_window___ += 1
    if v.session_type == 'no_reward':
        task_print('threshold crossing: no reward (no_reward session)')
    else:
        is_random = v.session_type == 'random_reward'
        reward(v.valve_pulse_s, reason='random' if is_random else 'success')
        v.reward_time___ = get_current_time()
        v.licks_after_reward___ = 0
    goto_state('success_rest')


def after_rest(next_trial_state='trial'):
    """The state after a rest: the next trial, or 'done' after total_trials."""
    return next_trial_state if v.trial_n < v.total_trials else 'done'


def rest(event, rest_s, next_trial_state='trial'):
    """A silent rest of rest_s s, then after_rest()."""
    if event == 'entry':
        tone_off()
        timed_goto_state(after_rest(next_trial_state), rest_s)


def success_rest_state(event, next_trial_state='trial'):
    if event == 'entry':
        end_trial_licks()
    rest(event, v.success_rest_s, next_trial_state)


def fail_rest_state(event, next_trial_state='trial'):
    """Timeout: count the failure, pulse the fail output, rest silently."""
    if event == 'entry':
        end_trial_licks()
        tone_off()
        v.failures += 1
        fail_signal(v.fail_pulse_s, reason='timeout')
        timed_goto_state(after_rest(next_trial_state), v.fail_rest_s)


def done_state(event):
    if event == 'entry':
        publish_reward_licks()
        tone_off()
        task_print(f'session complete: {v.successes} successes in {v.trial_n} trials')
        stop_framework()
