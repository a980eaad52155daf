"""Real-time priority for the hot path (`clopy run --rt-priority N`, launch argument
`rt_priority:=N`): the node process asks the kernel for SCHED_FIFO at priority N
before ROS starts its threads, so every thread of the process (DDS included) inherits
it. Where the process may not (no CAP_SYS_NICE and an RLIMIT_RTPRIO below N), it says
so once in its log, with what the rig needs, and runs at the normal priority.

What a rig needs (docs/benchmarks.md): the user running the session in a group with an
`rtprio` limit, e.g. /etc/security/limits.d/clopy.conf with `@clopy - rtprio 80`, then
a new login; or the capability on the interpreter (`setcap cap_sys_nice+ep`).
"""
from __future__ import annotations

import os
import resource

#: the environment variable the runner and the launch files set for the hot-path processes
ENV = 'CLOPY_RT_PRIORITY'
ALLOWED = range(1, 100)   # SCHED_FIFO priorities on Linux


def requested_priority(environ=os.environ) -> int | None:
    """N of CLOPY_RT_PRIORITY, None when unset or empty; ValueError naming the variable
    and the bad value otherwise."""
    text = environ.get(ENV, '').strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = None
    if value not in ALLOWED:
        raise ValueError(f'{ENV} = {text!r}: allowed: a whole number from 1 to 99 (SCHED_FIFO priority)')
    return value


def apply(priority: int | None) -> str | None:
    """SCHED_FIFO at `priority` for every thread of this process and the threads they
    start; returns the line to log (None when no priority was asked for)."""
    if priority is None:
        return None
    try:
        # every thread there is (a library's workers started at import) and, through the
        # calling thread, every thread started later
        for tid in [0] + sorted(int(t) for t in os.listdir('/proc/self/task') if t.isdigit()):
            try:
                os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(priority))
            except ProcessLookupError:   # a thread that has just ended
                pass
    except PermissionError:
        soft, _ = resource.getrlimit(resource.RLIMIT_RTPRIO)
        return (f'real-time priority {priority} (SCHED_FIFO) not permitted (RLIMIT_RTPRIO {soft}, no '
                'CAP_SYS_NICE): running at the normal priority; a rig allows it with an rtprio limit '
                '(/etc/security/limits.d) or CAP_SYS_NICE, see docs/benchmarks.md')
    return f'real-time priority {priority} (SCHED_FIFO)'


#: niceness of the processes that only watch a session (dashboard, Foxglove bridge): they
#: wake on the same frames as the hot path and must yield the CPU to it on a small computer
VIEWER_NICE = 10


def lower_for_viewer(nice: int = VIEWER_NICE) -> int:
    """Lower this process's priority by `nice` (before ROS starts its threads, so all of
    them inherit it); returns the niceness it now has."""
    try:
        return os.nice(nice)
    except OSError:   # a niceness limit: stay as it is
        return os.nice(0)
