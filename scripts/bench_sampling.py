"""/proc sampling for scripts/bench_clnf.py: CPU and memory of each node process
of a running session, and of the rest of the machine.

While the session runs, once per second it samples from /proc every node
process, found as the processes whose /proc/<pid>/cmdline contains the
session's parameters.yaml path and named by their `__node:=NAME` argument (one
node per process) or, for a composed process (`.../hotpath_node --nodes
camera,roi_dff,... --ros-args ...`), by its executable less `_node` ("hotpath"),
with the nodes it hosts:
CPU % = (utime + stime) ticks / CLK_TCK over the wall time between samples
(100 % = one core fully busy; all threads of the process; 1 % resolution),
and RSS (statm resident pages). `clopy run` itself ("clopy-run": progress
monitor, not a node) and this script ("bench") are sampled too. Other work on
the machine competes for the same cores, so the script also records the load
average (/proc/loadavg) at start and end, the host CPU busy % (/proc/stat, all
cores) and, per second, "others": the host CPU time not used by the session,
clopy-run or this script, in % of one core. Each latency is then also given
for the frames stamped in "quiet" seconds (others < --quiet-others-pct,
default 35 % of one core) -- a way to see how much of a tail is contention.
Once measuring, the scheduling policy of each node process is read once
(sched_getscheduler of the process and the policy field of every thread's
/proc/<pid>/task/<tid>/stat) with its CPU affinity, so a table says whether the
hot path really ran SCHED_FIFO and on which cores.
"""
from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

CLK_TCK = os.sysconf('SC_CLK_TCK')
PAGE = os.sysconf('SC_PAGE_SIZE')
NODE_RE = re.compile(r'__node:=(\S+)')


def loadavg() -> list[float]:
    return [float(x) for x in Path('/proc/loadavg').read_text().split()[:3]]


def host_cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores from /proc/stat."""
    fields = [int(x) for x in Path('/proc/stat').read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)   # idle + iowait
    total = sum(fields[:8])                                     # guest time is inside user
    return total - idle, total


def proc_cmdline(pid: int) -> list[str]:
    try:
        return Path(f'/proc/{pid}/cmdline').read_bytes().decode(errors='replace').split('\0')
    except OSError:
        return []


def proc_cpu_rss(pid: int) -> tuple[int, int] | None:
    """(utime + stime ticks, RSS bytes) of a process, None once it is gone."""
    try:
        stat = Path(f'/proc/{pid}/stat').read_text()
        statm = Path(f'/proc/{pid}/statm').read_text()
    except OSError:
        return None
    fields = stat.rsplit(')', 1)[1].split()    # after "pid (comm)"
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    rss = int(statm.split()[1]) * PAGE
    return ticks, rss


def process_identity(args: list[str]) -> tuple[str, list[str]] | None:
    """(process name, node names it hosts) from a node process's command line, or None.

    Separate mode: `.../lib/<pkg>/<exe> --ros-args -r __node:=<name> ...` -> (name, [name]).
    Composed mode: `.../lib/clopy/hotpath_node --nodes camera,roi_dff,... --ros-args ...`
    -> ('hotpath', [camera, roi_dff, ...]) (the executable's name less `_node`); also
    with `--nodes=...` or a Python interpreter in front of the executable."""
    names = [m.group(1) for a in args if (m := NODE_RE.search(a))]
    hosted: list[str] = []
    for i, a in enumerate(args):
        if a == '--nodes' and i + 1 < len(args):
            hosted = [n for n in args[i + 1].split(',') if n]
        elif a.startswith('--nodes='):
            hosted = [n for n in a.split('=', 1)[1].split(',') if n]
    if hosted or len(names) > 1:
        exe = next((Path(a).name for a in args if '/lib/' in a and not a.startswith('-')),
                   next((Path(a).name for a in args if a and not a.startswith('-')
                         and not Path(a).name.startswith('python')), 'composed'))
        name = exe[:-len('_node')] if exe.endswith('_node') else exe
        return name, hosted or names
    if names:
        return names[0], names
    return None


def find_nodes(params_path: str) -> dict[str, tuple[int, list[str]]]:
    """process name -> (pid, node names it hosts) of the processes started with this
    parameter file (one per node, or a composed process hosting several)."""
    found = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        args = proc_cmdline(int(entry))
        if not any(params_path == a or params_path in a for a in args):
            continue
        ident = process_identity(args)
        if ident:
            found[ident[0]] = (int(entry), ident[1])
    return found


def sched_policy(pid: int) -> dict:
    """The scheduling policy of a process: its main thread's (os.sched_getscheduler) and
    how many of its threads run SCHED_FIFO / SCHED_RR (/proc/<pid>/task/*/stat fields
    40 rt_priority and 41 policy)."""
    names = {0: 'SCHED_OTHER', 1: 'SCHED_FIFO', 2: 'SCHED_RR', 3: 'SCHED_BATCH', 5: 'SCHED_IDLE'}
    out: dict = {'pid': pid}
    try:
        out['main'] = names.get(os.sched_getscheduler(pid), str(os.sched_getscheduler(pid)))
        out['main_priority'] = os.sched_getparam(pid).sched_priority
    except OSError as exc:
        out['main'] = f'unknown ({exc.strerror})'
        return out
    threads = rt = 0
    prios = set()
    try:
        for tid in os.listdir(f'/proc/{pid}/task'):
            try:
                fields = Path(f'/proc/{pid}/task/{tid}/stat').read_text().rsplit(')', 1)[1].split()
            except OSError:
                continue
            threads += 1
            if int(fields[38]) in (1, 2):
                rt += 1
                prios.add(int(fields[37]))
    except OSError:
        pass
    out.update(threads=threads, rt_threads=rt, rt_priorities=sorted(prios))
    try:
        out['cpus'] = sorted(os.sched_getaffinity(pid))
    except OSError:
        pass
    return out


def describe_policy(p: dict | None) -> str:
    if not p:
        return '-'
    text = p['main'] + (f" {p['main_priority']}" if p.get('main_priority') else '')
    if 'threads' in p:
        text += f" ({p['rt_threads']}/{p['threads']} threads RT)"
    if p.get('cpus') is not None and len(p['cpus']) < (os.cpu_count() or 0):
        text += f" cpus {','.join(map(str, p['cpus']))}"
    return text


class Sampler(threading.Thread):
    """Once per second: CPU % and RSS of each node process, of `clopy run` and of
    this script, and the host's CPU use; keeps a timeline of the CPU used by
    everything else on the machine ("others")."""

    def __init__(self, params_path: str, runner_pid: int, period_s: float = 1.0) -> None:
        super().__init__(name='sampler', daemon=True)
        self.params_path = params_path
        self.extra = {'clopy-run': runner_pid, 'bench': os.getpid()}
        self.period_s = period_s
        self.stop_event = threading.Event()
        self.pids: dict[str, int] = {}           # process name -> pid
        self.hosts: dict[str, list[str]] = {}     # process name -> node names it hosts
        self.policies: dict[str, dict] = {}       # process name -> sched_policy() once measuring
        self.cpu: dict[str, list[float]] = {}
        self.rss: dict[str, list[int]] = {}
        self.host_busy: list[float] = []
        # (wall time s at the end of the sample, CPU % of one core used by processes
        #  that are neither the session nor this script)
        self.timeline: list[tuple[float, float]] = []
        # the node names of the session: the finder looks until a process hosts each
        self.expected: set[str] = {'camera', 'task', 'tone', 'reward', 'recorder'}
        # figures are kept only once this is set (camera up): start-up (imports,
        # discovery) is not steady state
        self.measuring = threading.Event()

    def run(self) -> None:
        last: dict[str, tuple[float, int]] = {}
        host_last = host_cpu_ticks()
        ncpu = os.cpu_count() or 1
        while not self.stop_event.wait(self.period_s):
            if not self.expected <= self.hosted():
                self.add(find_nodes(self.params_path))
            if self.measuring.is_set():
                for name, pid in self.pids.items():
                    if name not in self.policies:
                        self.policies[name] = sched_policy(pid)
            now = time.monotonic()
            ours = 0.0
            for name, pid in list(self.pids.items()) + list(self.extra.items()):
                sample = proc_cpu_rss(pid)
                if sample is None:
                    continue
                ticks, rss = sample
                if self.measuring.is_set():
                    self.rss.setdefault(name, []).append(rss)
                if name in last and now > last[name][0]:
                    t0, ticks0 = last[name]
                    pct_ = 100.0 * (ticks - ticks0) / CLK_TCK / (now - t0)
                    ours += pct_
                    if self.measuring.is_set():
                        self.cpu.setdefault(name, []).append(pct_)
                last[name] = (now, ticks)
            busy, total = host_cpu_ticks()
            if total > host_last[1] and self.measuring.is_set():
                host_pct = 100.0 * (busy - host_last[0]) / (total - host_last[1])
                self.host_busy.append(host_pct)
                self.timeline.append((time.time(), max(0.0, host_pct * ncpu - ours)))
            host_last = (busy, total)

    def hosted(self) -> set[str]:
        return {n for nodes in self.hosts.values() for n in nodes}

    def add(self, found: dict[str, tuple[int, list[str]]]) -> None:
        for name, (pid, nodes) in found.items():
            if name not in self.pids:
                self.pids[name] = pid
                self.hosts[name] = nodes

    def host_of(self, node: str) -> str | None:
        return next((p for p, nodes in self.hosts.items() if node in nodes), None)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=5)

    def summary(self) -> dict:
        out = {}
        order = ['hotpath', 'camera', 'roi_dff', 'pose', 'speed', 'task', 'tone', 'reward', 'lick', 'recorder',
                 'clopy-run', 'bench']
        for name in sorted(self.rss, key=lambda n: order.index(n) if n in order else len(order)):
            cpu = self.cpu.get(name, [])
            out[name] = {
                'pid': self.pids.get(name, self.extra.get(name)),
                'cpu_mean_pct': round(sum(cpu) / len(cpu), 1) if cpu else None,
                'cpu_max_pct': round(max(cpu), 1) if cpu else None,
                'rss_max_mb': round(max(self.rss[name]) / 2**20, 1),
                'samples': len(cpu),
                'nodes': self.hosts.get(name, []),
                'sched': self.policies.get(name),
            }
        nodes = [n for n in out if n not in self.extra]
        means = [out[n]['cpu_mean_pct'] for n in nodes if out[n]['cpu_mean_pct'] is not None]
        out['all nodes'] = {'pid': None, 'cpu_mean_pct': round(sum(means), 1) if means else None,
                            'cpu_max_pct': None,
                            'rss_max_mb': round(sum(out[n]['rss_max_mb'] for n in nodes), 1),
                            'samples': None}
        return out
