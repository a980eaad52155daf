"""CLMF: closed-loop movement feedback (speed of one tracked paw).

Protocol. The control signal is the speed of one body part (default the left forelimb)
in px per camera frame, from DeepLabCut-Live poses of the behaviour camera. The session
opens with a silent rest of `initial_rest_s`. Trials follow until `total_trials` have
been run. A trial may start only when the paw has been still: the mean speed over the
last `stillness_window_s` is below `stillness_level_px_per_frame` (the window must be
full; invalid frames are left out of the mean). After every rest the task waits, silent,
in `wait_still` until that holds, and the trial starts on that frame. During a trial the
mouse hears a tone whose pitch follows the current speed frame by frame (CLMF mapping:
0 px/frame gives 1000 Hz, above `threshold` 19027 Hz). A trial succeeds when the speed
from `reward_delay_s` earlier is strictly above `threshold`: the valve opens for
`valve_pulse_s` and a silent rest of `success_rest_s` follows. A trial that reaches
`max_trial_s` fails: the fail output pulses for `fail_pulse_s` and a silent rest of
`fail_rest_s` follows. When `adaptive_threshold` is on, every `adapt_window_s` of
session time the threshold rises by `threshold_step` after more than one success in the
window, falls by the same step after none (never below `threshold_floor`), and stays
after exactly one.

Licks (the input event 'lick', from the lick sensor) are counted and change nothing
else: `trial_licks` (licks in the trial just ended) and `reward_licks` (licks within
`consumption_window_s` of the latest reward), written when their value changes.

Control groups (`session_type`):
  graded        graded tone, reward on threshold crossing (the normal session)
  fixed_tone    one tone of `fixed_tone_hz` (1 kHz) during trials, reward on threshold
                crossing (the original CLMF control group)
  no_audio      silent trials, reward on threshold crossing
  random_reward graded tone; each trial frame is rewarded with probability
                `random_reward_p` instead of the threshold test
  no_reward     graded tone; crossings end the trial and are logged, the valve stays shut

Timing details. The stillness window runs over every frame of the session, rests
included. The trial starts on the frame that completes a still window; that frame sets
the tone, the reward test starts with the next frame. As in the original, the delay line
runs across states, so during the first `reward_delay_s` of a trial the test reads
speeds from just before the trial (the still period). Defaults are the original CLMF
values; times are in s, speeds and the threshold in px/frame.

Runs in the clopy_task engine. What CLMF shares with CLNF (trials, outcomes, feedback
tone, adaptive threshold, session types) is clopy_task.library; this file holds what
differs: the stillness condition before each trial (clopy_signal.speed, fed every
frame, so CLMF takes 'frame' events in every state) and the CLMF defaults.
"""

from clopy_signal.speed import StillnessDetector

from clopy_task import library
from clopy_task.api import *  # noqa: F401,F403 - the task API (pyControl style)

states = ['initial_rest', 'wait_still', 'trial', 'success_rest', 'fail_rest', 'done']
events = library.EVENTS
initial_state = 'initial_rest'
status_variables = library.STATUS_VARIABLES
tone_variables = library.TONE_VARIABLES
pulse_variables = library.PULSE_VARIABLES
variable_limits = dict(library.VARIABLE_LIMITS,
                       stillness_window_s={'min': 0.0, 'unit': 's'}, stillness_level_px_per_frame={'min': 0.0})  # what each variable allows

SESSION_TYPES = library.SESSION_TYPES

# Session structure (original CLMF defaults)
v.initial_rest_s = 30.0
v.max_trial_s = 30.0
v.success_rest_s = 10.0
v.fail_rest_s = 10.0
v.total_trials = 60

# Trial start: the paw must have been still
v.stillness_window_s = 5.0  # 151 frames at 30 fps
v.stillness_level_px_per_frame = 1.0

# Reward rule and outputs
v.threshold = 20.0  # px/frame (about 171 mm/s at 3.5 px/mm and 30 fps)
v.reward_delay_s = 1.0  # the reward test looks at the speed this long ago
v.valve_pulse_s = 0.1
v.fail_pulse_s = 0.5

# Feedback tone
v.n_tones = 18
v.tone_mapping = 'clmf'
v.tone_range = 'zero_to_threshold'
v.fixed_tone_hz = 1000.0

# Adaptive threshold (off in the original CLMF)
v.adaptive_threshold = False
v.threshold_step = 2.0
v.threshold_floor = 2.0
v.adapt_window_s = 30.0

# Session type (graded), random_reward_p (0.002 per trial frame), seed (0) and the
# counters trial_n, successes, failures: the library's defaults
library.define_session_variables()
v.stillness___ = None  # the running stillness window (StillnessDetector)


def run_start():
    library.check_and_start()
    v.stillness___ = StillnessDetector(v.stillness_window_s, v.stillness_level_px_per_frame)


def all_states(event):
    if event == 'frame':
        track_stillness()  # every frame, in every state; the state still sees the frame
        return False
    return library.count_lick(event) or library.adapt_threshold(event)


def initial_rest(event):
    if event == 'entry':
        tone_off()
        timed_goto_state('wait_still', v.initial_rest_s)


def wait_still(event):
    if event == 'entry':
        tone_off()
    elif event == 'frame' and v.stillness___.still:
        goto_state('trial')


def trial(event):
    # The trial starts on the frame that completes a still window: that frame sets the
    # tone (the feedback), the crossing watch tests the frames after it.
    if event == 'entry':
        library.start_trial()
        print(f'trial {v.trial_n}: paw still, mean {v.stillness___.mean_speed:.3f} px/frame '
              f'over {v.stillness_window_s:g} s')
    else:
        library.trial_event(event)


def success_rest(event):
    library.success_rest_state(event, next_trial_state='wait_still')


def fail_rest(event):
    library.fail_rest_state(event, next_trial_state='wait_still')


def done(event):
    library.done_state(event)


def track_stillness():
    """Add this frame's speed to the stillness window (unknown speeds as None)."""
    window = v.stillness___
    if window.window_s != v.stillness_window_s:  # changed live: start a new window
        window = v.stillness___ = StillnessDetector(v.stillness_window_s,
                                                    v.stillness_level_px_per_frame)
    window.level_px_per_frame = v.stillness_level_px_per_frame
    window.update(get_current_time(), signal.value if signal.valid else None)
