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

Runs in the clopy_feedback task engine: the task API (v, signal, goto_state, tone_for,
reward, ...) is provided by the engine.
"""

from clopy_feedback.threshold import ThresholdAdapter

states = ['initial_rest', 'trial', 'success_rest', 'fail_rest', 'done']
events = ['adapt_threshold']
initial_state = 'initial_rest'

SESSION_TYPES = ('graded', 'fixed_tone', 'no_audio', 'random_reward', 'no_reward')

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

# Session type (control groups) and randomness
v.session_type = 'graded'
v.random_reward_p = 0.002  # per trial frame, random_reward sessions only
v.seed = 0

# Counters (set by the task; logged whenever they change)
v.trial_n = 0
v.successes = 0
v.failures = 0
v.successes_in_window___ = 0  # successes since the last threshold adaptation


def run_start():
    if v.session_type not in SESSION_TYPES:
        raise TaskError(f"session_type={v.session_type!r}; allowed: {', '.join(SESSION_TYPES)}")
    tone_for(0.0)  # checks threshold and tone settings now, not at the first trial
    if v.adaptive_threshold:
        if not v.threshold_floor > 0:
            raise TaskError(f'threshold_floor={v.threshold_floor!r}; allowed: > 0 '
                            '(the tone mapping needs a positive threshold)')
        ThresholdAdapter(step=v.threshold_step, floor=v.threshold_floor)  # checks the step
        set_timer('adapt_threshold', v.adapt_window_s)


def all_states(event):
    # The adaptation window runs on session time, across trials and rests.
    if event == 'adapt_threshold':
        adapter = ThresholdAdapter(step=v.threshold_step, floor=v.threshold_floor)
        v.threshold = adapter.next_threshold(v.threshold, v.successes_in_window___)
        v.successes_in_window___ = 0
        set_timer('adapt_threshold', v.adapt_window_s)
        return True


def initial_rest(event):
    if event == 'entry':
        tone_off()
        timed_goto_state('trial', v.initial_rest_s)


def trial(event):
    if event == 'entry':
        v.trial_n += 1
        timed_goto_state('fail_rest', v.max_trial_s)  # timeout
    elif event == 'frame':
        if trial_succeeded():
            succeed()
        else:
            play_feedback()


def success_rest(event):
    if event == 'entry':
        tone_off()
        timed_goto_state(after_rest(), v.success_rest_s)


def fail_rest(event):
    if event == 'entry':
        tone_off()
        v.failures += 1
        fail_signal(v.fail_pulse_s, reason='timeout')
        timed_goto_state(after_rest(), v.fail_rest_s)


def done(event):
    if event == 'entry':
        tone_off()
        print(f'session complete: {v.successes} successes in {v.trial_n} trials')
        stop_framework()


# --- helpers ---------------------------------------------------------------------

def trial_succeeded():
    """This frame ends the trial with a success (random draw or delayed crossing)."""
    if v.session_type == 'random_reward':
        return random() < v.random_reward_p
    return signal.delayed(v.reward_delay_s) > v.threshold


def succeed():
    v.successes += 1
    v.successes_in_window___ += 1
    if v.session_type == 'no_reward':
        print('threshold crossing: no reward (no_reward session)')
    else:
        is_random = v.session_type == 'random_reward'
        reward(v.valve_pulse_s, reason='random' if is_random else 'success')
    goto_state('success_rest')


def play_feedback():
    """Tone for the current frame: graded on the current (not delayed) signal."""
    if v.session_type == 'no_audio':
        tone_off()
    elif v.session_type == 'fixed_tone':
        tone(v.fixed_tone_hz)
    else:
        tone(tone_for(signal.value))


def after_rest():
    return 'trial' if v.trial_n < v.total_trials else 'done'
