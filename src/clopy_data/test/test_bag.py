"""Tests of clopy_data.bag: real MCAP files, read back with rosbags and with mcap/mcap_ros2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from mcap.reader import make_reader
from mcap.records import Message
from mcap.stream_reader import StreamReader
from mcap_ros2.decoder import DecoderFactory
from rosbags.typesys import Stores, get_typestore, get_types_from_msg

from clopy_data.bag import (
    LIBRARY_CHUNK_BYTES,
    BagError,
    McapBagWriter,
    find_interface_dir,
    read_bag,
    salvage_bag,
    topic_counts,
    typestore_with_clopy,
)

SRC_MSG_DIR = Path(__file__).resolve().parents[2] / 'clopy_interfaces' / 'msg'


@pytest.fixture(scope='module')
def store():
    return typestore_with_clopy()


def header(store, sec: int, nanosec: int, frame_id: str = 'cam'):
    t = store.types
    return t['std_msgs/msg/Header'](
        stamp=t['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec), frame_id=frame_id
    )


def sample_messages(store) -> dict[str, tuple[str, object]]:
    """One message of several clopy types, keyed by topic."""
    t = store.types
    return {
        '/clopy/roi_signal': (
            'clopy_interfaces/msg/RoiSignal',
            t['clopy_interfaces/msg/RoiSignal'](
                header=header(store, 10, 5),
                frame_index=42,
                roi_names=['BC_L', 'BC_R'],
                dff=np.array([0.0125, -0.003]),
                rule_value=0.0155,
                rule='BC_L-BC_R',
                valid=True,
            ),
        ),
        '/clopy/pose': (
            'clopy_interfaces/msg/Pose',
            t['clopy_interfaces/msg/Pose'](
                header=header(store, 11, 0),
                frame_index=7,
                body_parts=['fl_l', 'fl_r'],
                x_px=np.array([10.5, 20.25], dtype=np.float32),
                y_px=np.array([1.0, 2.0], dtype=np.float32),
                likelihood=np.array([0.9, 0.5], dtype=np.float32),
                inference_s=0.0123,
            ),
        ),
        '/clopy/reward_event': (
            'clopy_interfaces/msg/RewardEvent',
            t['clopy_interfaces/msg/RewardEvent'](
                header=header(store, 12, 999_999_999),
                frame_index=100,
                output=t['clopy_interfaces/msg/RewardCommand'].OUTPUT_VALVE,
                name='valve',
                reason='success',
                delivered=True,
                note='',
                on_time=t['builtin_interfaces/msg/Time'](sec=12, nanosec=1),
                off_time=t['builtin_interfaces/msg/Time'](sec=12, nanosec=300_000_001),
                duration_s=0.3,
                rewards_delivered=3,
                opened=False,
                rewards_refused=0,
                water_ul=0.0,
            ),
        ),
        '/clopy/task_event': (
            'clopy_interfaces/msg/TaskEvent',
            t['clopy_interfaces/msg/TaskEvent'](
                header=header(store, 13, 0),
                frame_index=101,
                time_s=31.25,
                type='state',
                subtype='',
                content='trial\twith tab',
            ),
        ),
        '/clopy/session_status': (
            'clopy_interfaces/msg/SessionStatus',
            t['clopy_interfaces/msg/SessionStatus'](
                header=header(store, 14, 0),
                paradigm='clnf',
                session_type='normal',
                state='rest',
                trial=4,
                total_trials=60,
                successes=3,
                failures=1,
                rewards_delivered=3,
                threshold=0.077,
                frame_rate_hz=14.98,
                frames=1500,
                dropped_frames=2,
                elapsed_s=100.5,
                running=True,
                rewards_refused=0,
                stalled=False,
                stalled_s=0.0,
                invalid_frames=0,
                warning='',
            ),
        ),
    }


class Decoded:
    """A message decoded by mcap + mcap_ros2, independently of rosbags."""

    def __init__(self, schema, channel, message, ros_msg) -> None:
        self.schema, self.channel, self.ros_msg = schema, channel, ros_msg
        self.log_time_ns = message.log_time


def decode_with_mcap(path: Path) -> list[Decoded]:
    with path.open('rb') as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        return [Decoded(*item) for item in reader.iter_decoded_messages(log_time_order=True)]


def write_samples(bag_dir: Path, store, n: int = 3) -> dict[str, tuple[str, object]]:
    samples = sample_messages(store)
    with McapBagWriter(bag_dir, store) as writer:
        conns = {topic: writer.add_topic(topic, msgtype) for topic, (msgtype, _) in samples.items()}
        for i in range(n):
            for j, (topic, (msgtype, msg)) in enumerate(samples.items()):
                cdr = bytes(store.serialize_cdr(msg, msgtype))
                writer.write_raw(conns[topic], 1_000_000_000 * (i + 1) + j, cdr)
    return samples


def test_typestore_registers_every_interface_message(store):
    names = {p.stem for p in SRC_MSG_DIR.glob('*.msg')}
    assert len(names) >= 10
    for name in names:
        assert f'clopy_interfaces/msg/{name}' in store.types
    rc = store.types['clopy_interfaces/msg/RewardCommand']
    assert (rc.OUTPUT_VALVE, rc.OUTPUT_FAIL, rc.OUTPUT_TTL) == (0, 1, 2)
    # Standard types come with the ROS 2 store.
    assert 'sensor_msgs/msg/Image' in store.types
    assert find_interface_dir('msg').is_dir()


def test_typestore_from_explicit_folder(tmp_path):
    (tmp_path / 'Thing.msg').write_text('uint8 A=3\nfloat64 value\nstring[] names\n')
    store = typestore_with_clopy([tmp_path])
    thing = store.types['clopy_interfaces/msg/Thing']
    assert thing.A == 3
    assert 'clopy_interfaces/msg/RoiSignal' not in store.types
    with pytest.raises(BagError, match='no .msg files'):
        typestore_with_clopy([tmp_path / 'missing'])
    (tmp_path / 'typo').mkdir()
    (tmp_path / 'typo' / 'Typo.msg').write_text('flot64 value\n')
    with pytest.raises(BagError, match='Typo.msg.*flot64'):
        typestore_with_clopy([tmp_path / 'typo'])
    (tmp_path / 'bad').mkdir()
    (tmp_path / 'bad' / 'Bad.msg').write_text('float64 \n')
    with pytest.raises(BagError, match='Bad.msg'):
        typestore_with_clopy([tmp_path / 'bad'])


def test_type_hashes_match_rosidl_when_interfaces_are_built(store):
    """RIHS01 hashes equal those rosidl generated, so `ros2 bag play` accepts our bags."""
    try:
        from ament_index_python.packages import get_package_share_directory

        share = Path(get_package_share_directory('clopy_interfaces')) / 'msg'
    except Exception:
        pytest.skip('clopy_interfaces is not built/installed (AMENT_PREFIX_PATH)')
    files = sorted(share.glob('*.json'))
    assert files
    for path in files:
        want = json.loads(path.read_text())['type_hashes'][0]
        assert store.hash_rihs01(want['type_name']) == want['hash_string'], path.name


def test_round_trip_rosbags_mcap_and_metadata(tmp_path, store):
    bag = tmp_path / 'bag'
    samples = write_samples(bag, store, n=3)

    meta = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert meta['storage_identifier'] == 'mcap'
    assert meta['version'] == 9
    assert meta['message_count'] == 3 * len(samples)
    per_topic = {t['topic_metadata']['name']: t['message_count'] for t in meta['topics_with_message_count']}
    assert per_topic == {topic: 3 for topic in samples}
    assert topic_counts(bag) == per_topic

    # rosbags reader with our typestore.
    got = list(read_bag(bag, store))
    assert len(got) == 3 * len(samples)
    assert [m.timestamp_ns for m in got] == sorted(m.timestamp_ns for m in got)
    first = {m.topic: m for m in got if m.timestamp_ns < 2_000_000_000}
    roi = first['/clopy/roi_signal'].msg
    assert first['/clopy/roi_signal'].msgtype == 'clopy_interfaces/msg/RoiSignal'
    assert roi.roi_names == ['BC_L', 'BC_R']
    np.testing.assert_array_equal(roi.dff, [0.0125, -0.003])
    assert roi.rule == 'BC_L-BC_R' and roi.valid and roi.frame_index == 42
    assert roi.header.stamp.sec == 10 and roi.header.stamp.nanosec == 5
    pose = first['/clopy/pose'].msg
    np.testing.assert_array_equal(pose.x_px, np.array([10.5, 20.25], dtype=np.float32))
    assert first['/clopy/task_event'].msg.content == 'trial\twith tab'
    ev = first['/clopy/reward_event'].msg
    assert ev.off_time.nanosec == 300_000_001 and ev.rewards_delivered == 3
    assert first['/clopy/session_status'].msg.threshold == 0.077

    # Topic filter.
    only = list(read_bag(bag, store, topics=['/clopy/pose']))
    assert {m.topic for m in only} == {'/clopy/pose'} and len(only) == 3

    # Independent decoder: mcap + mcap_ros2 parse the schemas stored in the file.
    mcap_file = bag / 'bag.mcap'
    decoded = list(decode_with_mcap(mcap_file))
    assert len(decoded) == 3 * len(samples)
    by_topic = {}
    for m in decoded:
        by_topic.setdefault(m.channel.topic, []).append(m)
    r = by_topic['/clopy/roi_signal'][0]
    assert r.schema.name == 'clopy_interfaces/msg/RoiSignal'
    assert r.log_time_ns == 1_000_000_000
    assert list(r.ros_msg.roi_names) == ['BC_L', 'BC_R']
    assert list(r.ros_msg.dff) == [0.0125, -0.003]
    assert r.ros_msg.rule_value == 0.0155 and r.ros_msg.header.stamp.nanosec == 5
    p = by_topic['/clopy/pose'][0].ros_msg
    assert list(p.body_parts) == ['fl_l', 'fl_r'] and pytest.approx(list(p.likelihood)) == [0.9, 0.5]
    e = by_topic['/clopy/reward_event'][0].ros_msg
    assert e.reason == 'success' and e.delivered and e.duration_s == 0.3
    s = by_topic['/clopy/session_status'][0].ros_msg
    assert (s.state, s.trial, s.dropped_frames, s.running) == ('rest', 4, 2, True)

    # The finished file has a valid summary with per-channel statistics and CRCs.
    with mcap_file.open('rb') as f:
        summary = make_reader(f, decoder_factories=[DecoderFactory()]).get_summary()
    assert summary is not None and summary.statistics.message_count == 3 * len(samples)
    with mcap_file.open('rb') as f:
        records = list(StreamReader(f, validate_crcs=True).records)
    assert sum(isinstance(r, Message) for r in records) == 3 * len(samples)


def test_read_bag_without_typestore_uses_embedded_definitions(tmp_path, store):
    bag = tmp_path / 'bag'
    write_samples(bag, store, n=1)
    got = {m.topic: m.msg for m in read_bag(bag)}
    assert got['/clopy/roi_signal'].rule == 'BC_L-BC_R'


def test_read_bag_with_changed_definition_decodes_with_recorded_one(tmp_path):
    old = get_typestore(Stores.EMPTY)
    old.register(get_types_from_msg('int32 a\nstring s\n', 'test_pkg/msg/Thing'))
    new = get_typestore(Stores.EMPTY)
    new.register(get_types_from_msg('int32 a\nfloat64 b\nstring s\n', 'test_pkg/msg/Thing'))
    bag = tmp_path / 'bag'
    with McapBagWriter(bag, old) as writer:
        conn = writer.add_topic('/thing', 'test_pkg/msg/Thing')
        msg = old.types['test_pkg/msg/Thing'](a=7, s='hello')
        writer.write_raw(conn, 5, bytes(old.serialize_cdr(msg, 'test_pkg/msg/Thing')))
    (got,) = list(read_bag(bag, new))
    assert got.msg.a == 7 and got.msg.s == 'hello'
    assert not hasattr(got.msg, 'b')


def test_qos_profiles_are_stored(tmp_path, store):
    qos = {
        'history': 'keep_last',
        'depth': 10,
        'reliability': 'reliable',
        'durability': 'volatile',
        'deadline': {'sec': 0, 'nsec': 0},
        'lifespan': {'sec': 0, 'nsec': 0},
        'liveliness': 'automatic',
        'liveliness_lease_duration': {'sec': 0, 'nsec': 0},
        'avoid_ros_namespace_conventions': False,
    }
    bag = tmp_path / 'bag'
    with McapBagWriter(bag, store) as writer:
        writer.add_topic('/a', 'clopy_interfaces/msg/ToneCommand', [qos])
        writer.add_topic('/b', 'clopy_interfaces/msg/ToneCommand', yaml.safe_dump([qos]))
        with pytest.raises(BagError, match="'/c'"):
            writer.add_topic('/c', 'clopy_interfaces/msg/ToneCommand', [{'depth': 1}])
    meta = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    for topic in meta['topics_with_message_count']:
        (profile,) = topic['topic_metadata']['offered_qos_profiles']
        assert profile['reliability'] == 'reliable' and profile['depth'] == 10


def test_writer_errors_and_idempotent_close(tmp_path, store):
    bag = tmp_path / 'bag'
    writer = McapBagWriter(bag, store)
    with pytest.raises(BagError, match='no_pkg/msg/Nope'):
        writer.add_topic('/x', 'no_pkg/msg/Nope')
    conn = writer.add_topic('/x', 'clopy_interfaces/msg/ToneCommand')
    assert writer.add_topic('/x', 'clopy_interfaces/msg/ToneCommand') is conn
    with pytest.raises(BagError, match='timestamp_ns'):
        writer.write_raw(conn, -1, b'')
    with pytest.raises(BagError, match='timestamp_ns'):
        writer.write_raw(conn, 1.5, b'')  # type: ignore[arg-type]
    writer.close()
    writer.close()
    assert writer.closed
    with pytest.raises(BagError, match=str(bag)):
        writer.write_raw(conn, 1, b'')
    with pytest.raises(BagError, match='exists'):
        McapBagWriter(bag, store)
    with pytest.raises(ValueError, match='chunk_bytes'):
        McapBagWriter(tmp_path / 'other', store, chunk_bytes=LIBRARY_CHUNK_BYTES + 1)


def test_context_manager_closes_on_error(tmp_path, store):
    bag = tmp_path / 'bag'
    tone = store.types['clopy_interfaces/msg/ToneCommand']
    with pytest.raises(RuntimeError, match='boom'):
        with McapBagWriter(bag, store) as writer:
            conn = writer.add_topic('/tone', tone.__msgtype__)
            msg = tone(header=header(store, 1, 2), frame_index=1, frequency_hz=1189.0, amplitude=0.5)
            writer.write_raw(conn, 3, bytes(store.serialize_cdr(msg, tone.__msgtype__)))
            raise RuntimeError('boom')
    assert topic_counts(bag) == {'/tone': 1}
    (got,) = list(read_bag(bag, store))
    assert got.msg.frequency_hz == 1189.0


def test_topic_without_messages_keeps_file_readable(tmp_path, store):
    bag = tmp_path / 'bag'
    tone = store.types['clopy_interfaces/msg/ToneCommand']
    with McapBagWriter(bag, store) as writer:
        conn = writer.add_topic('/tone', tone.__msgtype__)
        msg = tone(header=header(store, 1, 2), frame_index=1, frequency_hz=1000.0, amplitude=1.0)
        writer.write_raw(conn, 3, bytes(store.serialize_cdr(msg, tone.__msgtype__)))
        writer.flush()
        writer.add_topic('/never', 'clopy_interfaces/msg/FrameInfo')
    assert topic_counts(bag) == {'/tone': 1, '/never': 0}
    assert [m.channel.topic for m in decode_with_mcap(bag / 'bag.mcap')] == ['/tone']


def test_concurrent_writers_lose_nothing(tmp_path, store):
    bag = tmp_path / 'bag'
    sig = store.types['clopy_interfaces/msg/ControlSignal']
    n_threads, n_each = 4, 400
    with McapBagWriter(bag, store, chunk_bytes=8192) as writer:
        conns = [writer.add_topic(f'/signal{i % 2}', sig.__msgtype__) for i in range(n_threads)]

        def work(k: int) -> None:
            for i in range(n_each):
                msg = sig(header=header(store, k, i), frame_index=k * n_each + i, value=float(i), units='dff', valid=True, invalid_reason='')
                stamp = np.int64(k * 10**9 + i) if k == 0 else k * 10**9 + i  # numpy ints accepted
                writer.write_raw(conns[k], stamp, bytes(store.serialize_cdr(msg, sig.__msgtype__)))

        threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert sum(writer.message_counts().values()) == n_threads * n_each
    frames = sorted(m.msg.frame_index for m in read_bag(bag, store))
    assert frames == list(range(n_threads * n_each))
    assert topic_counts(bag) == {'/signal0': 2 * n_each, '/signal1': 2 * n_each}


def _messages_on_disk(mcap_file: Path) -> int:
    """Messages in complete chunks of a (possibly unfinished) MCAP file."""
    n = 0
    with mcap_file.open('rb') as f:
        try:
            for record in StreamReader(f).records:
                n += isinstance(record, Message)
        except Exception:
            pass
    return n


def test_chunks_reach_disk_before_close(tmp_path, store):
    sig = store.types['clopy_interfaces/msg/ControlSignal']
    cdr = bytes(store.serialize_cdr(sig(header=header(store, 0, 0), frame_index=0, value=1.0, units='dff', valid=True, invalid_reason=''), sig.__msgtype__))

    # Size limit: with 1 KiB chunks, 100 messages are mostly on disk already.
    writer = McapBagWriter(tmp_path / 'size', store, chunk_bytes=1024, max_chunk_age_s=None)
    assert writer.supports_chunk_flush
    conn = writer.add_topic('/s', sig.__msgtype__)
    for i in range(100):
        writer.write_raw(conn, i, cdr)
    on_disk = _messages_on_disk(writer.mcap_path)
    assert 100 - 1024 // len(cdr) <= on_disk < 100
    writer.flush()
    assert _messages_on_disk(writer.mcap_path) == 100
    writer.close()

    # Library default (1 MiB) without age limit: nothing reaches the disk ...
    writer = McapBagWriter(tmp_path / 'big', store, max_chunk_age_s=None)
    conn = writer.add_topic('/s', sig.__msgtype__)
    for i in range(100):
        writer.write_raw(conn, i, cdr)
    assert _messages_on_disk(writer.mcap_path) == 0
    writer.close()

    # ... while an age limit cuts a chunk as soon as the first message is old enough.
    writer = McapBagWriter(tmp_path / 'age', store, max_chunk_age_s=0.05)
    conn = writer.add_topic('/s', sig.__msgtype__)
    for i in range(5):
        time.sleep(0.07)  # > max_chunk_age_s since the writer opened / last cut
        writer.write_raw(conn, i, cdr)
        assert _messages_on_disk(writer.mcap_path) == i + 1
    for i in range(5, 10):  # back to back: well under 50 ms apart, held in memory
        writer.write_raw(conn, i, cdr)
    assert _messages_on_disk(writer.mcap_path) == 5
    writer.close()


KILLED_WRITER = r'''
import os, signal, sys
from pathlib import Path
from clopy_data.bag import McapBagWriter, typestore_with_clopy
store = typestore_with_clopy()
sig = store.types['clopy_interfaces/msg/ControlSignal']
Header = store.types['std_msgs/msg/Header']; Time = store.types['builtin_interfaces/msg/Time']
writer = McapBagWriter(Path(sys.argv[1]), store, max_chunk_age_s=None)
conn = writer.add_topic('/signal', sig.__msgtype__)
for i in range(250):
    msg = sig(header=Header(stamp=Time(sec=i, nanosec=0), frame_id=''), frame_index=i, value=i / 10, units='dff', valid=True, invalid_reason='')
    writer.write_raw(conn, 1000 + i, bytes(store.serialize_cdr(msg, sig.__msgtype__)))
    if i == 199:
        writer.flush()
os.kill(os.getpid(), signal.SIGKILL)
'''


def test_sigkill_loses_only_the_pending_chunk_and_salvage_recovers(tmp_path, store):
    bag = tmp_path / 'killed'
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, '-c', KILLED_WRITER, str(bag)], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert not (bag / 'metadata.yaml').exists()
    with pytest.raises(BagError, match='salvage_bag'):
        list(read_bag(bag, store))
    with pytest.raises(BagError, match='metadata.yaml'):
        topic_counts(bag)

    fixed = tmp_path / 'fixed'
    assert salvage_bag(bag, fixed) == {'/signal': 200}
    got = list(read_bag(fixed, store))
    assert [m.msg.frame_index for m in got] == list(range(200))
    assert [m.timestamp_ns for m in got] == [1000 + i for i in range(200)]
    assert got[-1].msg.value == pytest.approx(19.9)
    assert topic_counts(fixed) == {'/signal': 200}
    assert len(list(decode_with_mcap(fixed / 'fixed.mcap'))) == 200


def test_rclpy_serialized_bytes_round_trip(tmp_path, store):
    """The recorder path: bytes from rclpy's serializer (as a raw subscription delivers them)."""
    try:
        from clopy_interfaces.msg import RoiSignal
        from rclpy.serialization import serialize_message

        msg = RoiSignal(frame_index=9, roi_names=['BC_L', 'BC_R'], dff=[0.5, -0.25], rule_value=0.75, rule='BC_L-BC_R', valid=True)
        msg.header.stamp.sec = 3
        msg.header.frame_id = 'cam'
        cdr = serialize_message(msg)
    except Exception as exc:  # ImportError, or type support libraries not on the path
        pytest.skip(f'rclpy with the built clopy_interfaces is not usable here: {exc}')
    bag = tmp_path / 'bag'
    with McapBagWriter(bag, store) as writer:
        conn = writer.add_topic('/roi', 'clopy_interfaces/msg/RoiSignal')
        writer.write_raw(conn, 7, cdr)
    (got,) = list(read_bag(bag, store))
    assert got.msg.roi_names == ['BC_L', 'BC_R'] and list(got.msg.dff) == [0.5, -0.25]
    assert got.msg.header.stamp.sec == 3 and got.msg.rule_value == 0.75
    (m,) = list(decode_with_mcap(bag / 'bag.mcap'))
    assert m.ros_msg.rule == 'BC_L-BC_R' and m.ros_msg.frame_index == 9
