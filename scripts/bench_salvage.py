#!/usr/bin/env python3
"""Benchmark of the salvage of an unclosed bag: wall time and peak memory.

Writes a large synthetic bag with the project's writer (McapBagWriter, the
recorder's own): camera images at --fps for --minutes, plus a control_signal
message per frame; by default 256x256 bgr8 (the simulated camera's frames) at
30 fps for 10 minutes, about 3.5 GB, the size of the bag in issue #11. Then it
does what a SIGKILL of the recorder leaves (deletes metadata.yaml, cuts the MCAP
file in the middle of its last chunk, which also drops the index and footer),
and salvages the file in a child process that does nothing else, reporting that
child's wall time and peak RSS (the child's own ``VmHWM``; its
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is printed too, but on Linux that
never reads below the parent's RSS when it spawned the child), beside the peak
RSS of a child that only imports the same modules. ``--compare-git REV`` runs
the salvage of another revision on the same file. It prints
figures; it is not a test (it never fails on a figure). The files are deleted at
the end (unless --keep).

    source scripts/env.sh
    scripts/bench_salvage.py                              # 10 min, 256x256 bgr8, 30 fps (~3.5 GB)
    scripts/bench_salvage.py --image 256x256:bgr8 --image 640x480:mono8 --minutes 3
    scripts/bench_salvage.py --quick                      # 20 s of frames, a few seconds in all

It checks free disk space first: the bag and its salvage need about twice the
bag's size, and it refuses to start with less than that plus 2 GB free.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHANNELS = {'mono8': 1, 'bgr8': 3, 'rgb8': 3}

CHILD_SALVAGE = r'''
import json, re, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[4]) if len(sys.argv) > 4 else None
salvage_bag = __import__(sys.argv[3], fromlist=['salvage_bag']).salvage_bag
start = time.perf_counter()
counts = salvage_bag(Path(sys.argv[1]), Path(sys.argv[2]))
wall_s = time.perf_counter() - start
report = getattr(counts, 'report', None)
status = open('/proc/self/status').read()
print(json.dumps({'wall_s': wall_s, 'maxrss_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  'hwm_kib': int(re.search(r'VmHWM:\s+(\d+)', status).group(1)),
                  'counts': dict(counts), 'lost_bytes': report.lost_bytes if report else None,
                  'line': report.line() if report else ''}))
'''

CHILD_IMPORTS = r'''
import json, re, resource
import clopy_data.salvage
status = open('/proc/self/status').read()
print(json.dumps({'maxrss_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  'hwm_kib': int(re.search(r'VmHWM:\s+(\d+)', status).group(1))}))
'''


def parse_image(text: str) -> tuple[int, int, str]:
    size, _, encoding = text.partition(':')
    encoding = encoding or 'bgr8'
    try:
        width, height = (int(v) for v in size.lower().split('x'))
    except ValueError:
        raise SystemExit(f'--image {text!r}: expected WIDTHxHEIGHT[:ENCODING], e.g. 256x256:bgr8') from None
    if encoding not in CHANNELS:
        raise SystemExit(f'--image {text!r}: encoding {encoding!r}; allowed: {sorted(CHANNELS)}')
    return width, height, encoding


def write_bag(bag: Path, images: list[tuple[int, int, str]], fps: float, minutes: float) -> dict:
    """The synthetic recording; returns its figures."""
    import numpy as np

    from clopy_data.bag import McapBagWriter, typestore_with_clopy
    store = typestore_with_clopy()
    t = store.types
    n = int(round(minutes * 60 * fps))
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    with McapBagWriter(bag, store) as writer:
        cams = []
        for i, (w, h, enc) in enumerate(images):
            conn = writer.add_topic(f'camera{i}/image_raw', 'sensor_msgs/msg/Image')
            # a few distinct frames, reused: content does not matter to the salvage (no compression)
            frames = []
            for k in range(4):
                pixels = rng.integers(0, 256, size=h * w * CHANNELS[enc], dtype=np.uint8)
                msg = t['sensor_msgs/msg/Image'](
                    header=t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](sec=k, nanosec=0),
                                                    frame_id='camera'),
                    height=h, width=w, encoding=enc, is_bigendian=0, step=w * CHANNELS[enc], data=pixels)
                frames.append(bytes(store.serialize_cdr(msg, 'sensor_msgs/msg/Image')))
            cams.append((conn, frames))
        signal = writer.add_topic('control_signal', 'clopy_interfaces/msg/ControlSignal')
        t0_ns = 1_795_000_000_000_000_000
        for i in range(n):
            stamp_ns = t0_ns + int(i * 1e9 / fps)
            for conn, frames in cams:
                writer.write_raw(conn, stamp_ns, frames[i % len(frames)])
            msg = t['clopy_interfaces/msg/ControlSignal'](
                header=t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](
                    sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9), frame_id='camera'),
                frame_index=i, value=float(np.sin(i / 50.0)) * 0.05, units='dff', valid=True, invalid_reason='')
            writer.write_raw(signal, stamp_ns + 2_000_000, store.serialize_cdr(msg, 'clopy_interfaces/msg/ControlSignal'))
    return {'frames': n, 'messages': n * (len(images) + 1), 'write_s': time.perf_counter() - start}


def kill_like(bag: Path) -> dict:
    """What SIGKILL of the recorder leaves: no metadata.yaml, the file cut in the middle of its
    last full-size chunk (the chunks close() wrote after it go too)."""
    from mcap.reader import make_reader
    mcap = next(bag.glob('*.mcap'))
    with mcap.open('rb') as f:
        chunks = list(make_reader(f).get_summary().chunk_indexes)
    biggest = max(c.chunk_length for c in chunks)
    last = [c for c in chunks if c.chunk_length * 2 >= biggest][-1]
    cut = last.chunk_start_offset + last.chunk_length // 2
    full = mcap.stat().st_size
    (bag / 'metadata.yaml').unlink()
    with mcap.open('r+b') as f:
        f.truncate(cut)
    return {'bag_bytes': cut, 'full_bytes': full, 'chunks': len(chunks), 'cut_into_chunk_bytes': cut -
            last.chunk_start_offset, 'chunk_bytes': last.chunk_length}


def child(code: str, *args: str) -> dict:
    result = subprocess.run([sys.executable, '-c', code, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f'child failed ({result.returncode}):\n{result.stderr}')
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--image', action='append', metavar='WxH[:ENC]',
                   help='camera topic of this size (repeatable; default 256x256:bgr8)')
    p.add_argument('--fps', type=float, default=30.0)
    p.add_argument('--minutes', type=float, default=10.0)
    p.add_argument('--quick', action='store_true', help='20 s of frames (a smoke run, not a meaningful figure)')
    p.add_argument('--dir', type=Path, help='where to write (default: a new folder under the temp dir)')
    p.add_argument('--keep', action='store_true', help='keep the files')
    p.add_argument('--compare-git', metavar='REV',
                   help='also time the salvage_bag of this git revision on the same file (e.g. the one '
                        'before streaming, 7b30e83; it holds every message in memory)')
    args = p.parse_args(argv)
    images = [parse_image(s) for s in (args.image or ['256x256:bgr8'])]
    minutes = 20 / 60 if args.quick else args.minutes
    frame_bytes = sum(w * h * CHANNELS[e] for w, h, e in images)
    expected = int(frame_bytes * args.fps * minutes * 60)
    work = Path(tempfile.mkdtemp(prefix='clopy-bench-salvage-', dir=args.dir))
    free = shutil.disk_usage(work).free
    if free < 2 * expected + 2 * 2**30:
        shutil.rmtree(work)
        raise SystemExit(f'{work}: {free / 2**30:.1f} GiB free; the bag and its salvage need about '
                         f'{2 * expected / 2**30:.1f} GiB plus 2 GiB to spare')
    print(f'{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, '
          f'{work} ({free / 2**30:.0f} GiB free)')
    print(f'images {", ".join(f"{w}x{h} {e}" for w, h, e in images)} at {args.fps:g} fps for {minutes:g} min '
          f'(~{expected / 1e9:.2f} GB)')
    try:
        bag = work / 'bag'
        wrote = write_bag(bag, images, args.fps, minutes)
        cut = kill_like(bag)
        print(f'written: {wrote["messages"]} messages ({wrote["frames"]} frames), {cut["full_bytes"] / 1e9:.3f} GB, '
              f'{cut["chunks"]} chunks, in {wrote["write_s"]:.1f} s; cut at {cut["bag_bytes"]} bytes, '
              f'{cut["cut_into_chunk_bytes"]} bytes into a chunk of {cut["chunk_bytes"]} bytes')
        base = child(CHILD_IMPORTS)
        got = child(CHILD_SALVAGE, str(bag), str(work / 'bag_salvaged'), 'clopy_data.salvage')
        size_gb = cut['bag_bytes'] / 1e9
        print(f'salvage: {got["wall_s"]:.1f} s wall ({size_gb / got["wall_s"] * 1000:.0f} MB/s), peak RSS '
              f'{got["hwm_kib"] / 1024:.1f} MiB (VmHWM; a child that only imports: {base["hwm_kib"] / 1024:.1f} '
              f'MiB); ru_maxrss {got["maxrss_kib"] / 1024:.1f} MiB (imports only: {base["maxrss_kib"] / 1024:.1f} '
              'MiB; on Linux it never reads below the parent\'s RSS at the spawn)')
        print(f'report: {got["line"]}')
        print(f'messages salvaged: {sum(got["counts"].values())} of {wrote["messages"]}; '
              f'lost bytes {got["lost_bytes"]}')
        if args.compare_git:
            old = work / 'old'
            old.mkdir()
            source = subprocess.run(['git', 'show', f'{args.compare_git}:src/clopy_data/clopy_data/salvage.py'],
                                    cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                                    check=True).stdout
            (old / 'salvage_at_revision.py').write_text(source, encoding='utf-8')
            shutil.rmtree(work / 'bag_salvaged')  # the disk space of one salvage at a time
            was = child(CHILD_SALVAGE, str(bag), str(work / 'bag_salvaged'), 'salvage_at_revision', str(old))
            print(f'salvage of {args.compare_git}: {was["wall_s"]:.1f} s wall, peak RSS '
                  f'{was["hwm_kib"] / 1024:.1f} MiB (VmHWM), {sum(was["counts"].values())} messages')
    finally:
        if args.keep:
            print(f'kept {work}')
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
