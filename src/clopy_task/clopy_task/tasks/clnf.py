"""CLNF: closed-loop neurofeedback training (1-ROI and 2-ROI).

Protocol. The session opens with a silent rest of `initial_rest_s`. Trials follow
until `total_trials` have been run. During a trial the mouse hears a tone whose pitch
follows the current control signal (the ROI dF/F, or the 2-ROI rule's value) frame by
frame. A trial succeeds when the signal from `reward_delay_s` earlier is strictly
above `threshold`: the valve opens for `valve_pulse_s` and a silent rest of
`success_rest_s` follows. A trial that reaches `max_trial_s` fails: the fail output
pulses for `fail_pulse_s` and a silent rest of `fail_rest_s` follows. When
`adaptive_threshold` is on, every `adapt_window_s` of session time the threshold rises
by `threshold_step` after more than one success in the window, falls by the same step
after none (never below `threshold_floor`), and stays after exactly one.

Licks (the input event 'lick', from the lick sensor) are counted and change nothing
else: `trial_licks` (licks in the trial just ended) and `reward_licks` (licks within
`consumption_window_s` of the latest reward), written when their value changes.

Control groups (`session_type`):
  graded        graded tone, reward on threshold crossing (the normal session)
  fixed_tone    one tone of `fixed_tone_hz` during trials, reward on threshold crossing
  no_audio      silent trials, reward on threshold crossing
  random_reward graded tone; each trial frame is rewarded with probability
                `random_reward_p` instead of the threshold test
  no_reward     graded tone; crossings end the trial and are logged, the valve stays shut

1-ROI and 2-ROI sessions run this same file; they differ only in variables set from
the parameter file (2-ROI: threshold 0.1, success_rest_s 5, fail_rest_s 10, and the
adaptive threshold off). Times are in s, the threshold in the control signal's units.

Runs in the clopy_task engine; the trial, outcome, feedback and adaptive-threshold
logic it shares with CLMF is clopy_task.library. The threshold test is a signal watch
and the tone a declared per-frame feedback, so the offline threshold simulation skips
the frames where nothing can happen.
"""

from clopy_task import library
from clopy_task.api import *  # noqa: F401,F403 - the task API (pyControl style)

states = ['initial_rest', 'trial', 'success_rest', 'fail_rest', 'done']
events = library.EVENTS
initial_state = 'initial_rest'
frame_events = 'requested'  # only random_reward trials take 'frame' events
status_variables = library.STATUS_VARIABLES
tone_variables = library.TONE_VARIABLES
pulse_variables = library.PULSE_VARIABLES
variable_limits = library.VARIABLE_LIMITS  # what each variable allows

SESSION_TYPES = library.SESSION_TYPES

# Session structure (original CLNF 1-ROI defaults)
v.initial_rest_s = 30.0
v.max_trial_s = 30.0
v.success_rest_s = 10.0
v.fail_rest_s = 15.0
v.total_trials = 60

# Reward rule and outputs
v.threshold = 0.075  # dF/F
v.reward_delay_s = 1.0  # the reward test looks at the signal this long ago
v.valve_pulse_s = 0.3
v.fail_pulse_s = 0.5

# Feedback tone
v.n_tones = 18
v.tone_mapping = 'clnf'
v.tone_range = 'zero_to_threshold'  # 'symmetric' = the original's range after adaptation
v.fixed_tone_hz = 1000.0

# Adaptive threshold. The original had no floor, so its threshold could reach 0 and
# below, where the tone mapping is undefined; we keep it at or above the floor.
v.adaptive_threshold = True
v.threshold_step = 0.002
v.threshold_floor = 0.01
v.adapt_window_s = 30.0

# Session type (graded), random_reward_p (0.002 per trial frame), seed (0) and the
# counters trial_n, successes, failures: the library's defaults
library.define_session_variables()


def run_start():
    library.check_and_start()


def all_states(event):
    return library.count_lick(event) or library.adapt_threshold(event)


def initial_rest(event):
    if event == 'entry':
        tone_off()
        timed_goto_state('trial', v.initial_rest_s)


def trial(event):
    if event == 'entry':
        library.start_trial()
    else:
        library.trial_event(event)


def success_rest(event):
    library.success_rest_state(event)


def fail_rest(event):
    library.fail_rest_state(event)


def done(event):
    library.done_state(event)
