"""Salvage of an unclosed bag: real MCAP files written by the project's writer,
cut at byte offsets a killed recorder can leave, salvaged in one streaming pass
with a report of what was lost; and the offline tools' shared way to open a bag
(salvage once into bag_salvaged/, reuse while newer than the recording)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from mcap.reader import make_reader

from clopy_data.bag import BagError, McapBagWriter, read_bag, readable_bag, salvage_bag, topic_counts, \
    typestore_with_clopy
from clopy_data.folder import BAG_METADATA, SALVAGE_REPORT, SessionFolder, salvaged_bag_dir
from clopy_data.salvage import SalvageReport

N = 100             # messages on /a, log times 1000 .. 1099 ns
EVERY_B = 3         # /b gets a message when i % 3 == 0
PER_CHUNK = 10      # a chunk is cut after every 10th /a message


@pytest.fixture(scope='module')
def store():
    return typestore_with_clopy()


def write_bag(store, bag: Path) -> list[tuple[str, int, bytes]]:
    """A closed two-topic bag; returns (topic, log time ns, CDR bytes) of every message in order."""
    t = store.types
    written = []
    with McapBagWriter(bag, store, max_chunk_age_s=None) as w:
        a = w.add_topic('/a', 'std_msgs/msg/Header')
        b = w.add_topic('/b', 'std_msgs/msg/String')
        for i in range(N):
            cdr = store.serialize_cdr(t['std_msgs/msg/Header'](
                stamp=t['builtin_interfaces/msg/Time'](sec=i, nanosec=7), frame_id='x' * i), 'std_msgs/msg/Header')
            w.write_raw(a, 1000 + i, cdr)
            written.append(('/a', 1000 + i, bytes(cdr)))
            if i % EVERY_B == 0:
                cdr = store.serialize_cdr(t['std_msgs/msg/String'](data='y' * i), 'std_msgs/msg/String')
                w.write_raw(b, 1000 + i, cdr)
                written.append(('/b', 1000 + i, bytes(cdr)))
            if i % PER_CHUNK == PER_CHUNK - 1:
                w.flush()
    return written


def chunks(mcap: Path) -> list:
    """The chunk index of a closed MCAP file (offsets and time range of each chunk)."""
    with mcap.open('rb') as f:
        return list(make_reader(f).get_summary().chunk_indexes)


def cut_copy(bag: Path, dest: Path, size: int) -> Path:
    """A copy of a closed bag as a killed recorder leaves it: no metadata.yaml, the MCAP file cut at ``size``."""
    dest.mkdir()
    data = (bag / f'{bag.name}.mcap').read_bytes()[:size]
    (dest / f'{dest.name}.mcap').write_bytes(data)
    return dest


@pytest.fixture(scope='module')
def closed(tmp_path_factory, store):
    bag = tmp_path_factory.mktemp('closed') / 'bag'
    written = write_bag(store, bag)
    index = chunks(bag / 'bag.mcap')
    assert len(index) == N // PER_CHUNK
    return bag, written, index


def expected_up_to(written, last_ns: int) -> list[tuple[str, int, bytes]]:
    return [m for m in written if m[1] <= last_ns]


def check_salvage(store, bag: Path, out: Path, written, kept_until_ns: int | None):
    """Salvage ``bag`` into ``out``; the messages are exactly those written up to ``kept_until_ns``."""
    counts = salvage_bag(bag, out)
    want = [] if kept_until_ns is None else expected_up_to(written, kept_until_ns)
    want_counts = {}
    for topic, _, _ in want:
        want_counts[topic] = want_counts.get(topic, 0) + 1
    assert {k: v for k, v in counts.items() if v} == want_counts
    report = counts.report
    assert report.counts == want_counts
    for topic in want_counts:
        times = [ns for t, ns, _ in want if t == topic]
        assert (report.topics[topic].first_ns, report.topics[topic].last_ns) == (min(times), max(times))
    if want:
        got = [(m.topic, m.timestamp_ns) for m in read_bag(out, store)]
        assert got == [(t, ns) for t, ns, _ in want]
        with (out / f'{out.name}.mcap').open('rb') as f:
            raw = [(c.topic, m.log_time, m.data) for _, c, m in make_reader(f).iter_messages(log_time_order=False)]
        assert raw == want, 'the salvaged bytes are the recorded bytes'
        assert topic_counts(out) == {k: v for k, v in counts.items()}
    return report


@pytest.mark.parametrize('where', ['mid', 'head', 'times', 'first'])
def test_cut_inside_a_chunk_loses_that_chunk_and_reports_it(tmp_path, store, closed, where):
    bag, written, index = closed
    k = {'mid': 6, 'head': 3, 'times': 5, 'first': 0}[where]
    chunk = index[k]
    offset = {'mid': chunk.chunk_length // 2,  # in the records
              'head': 5,                       # in the record's opcode + length
              'times': 9 + 16 + 3,             # just after the chunk's time range
              'first': chunk.chunk_length - 1}[where]
    size = chunk.chunk_start_offset + offset
    cut = cut_copy(bag, tmp_path / 'killed', size)
    kept_until = index[k - 1].message_end_time if k else None
    report = check_salvage(store, cut, tmp_path / 'fixed', written, kept_until)
    assert report.file_bytes == size
    assert report.lost_bytes == offset, 'lost: from the start of the cut chunk to the end of the file'
    assert 'cut short' in report.reason
    if where == 'head':
        assert report.lost_start_ns is None
    else:
        assert (report.lost_start_ns, report.lost_end_ns) == (chunk.message_start_time, chunk.message_end_time)
    assert f'{offset} bytes unreadable' in report.line()


def test_cut_between_chunks_and_in_the_message_indices(tmp_path, store, closed):
    bag, written, index = closed
    chunk = index[4]
    end = chunk.chunk_start_offset + chunk.chunk_length
    # exactly at the end of a chunk: nothing unreadable, every message of chunks 0..4 back
    report = check_salvage(store, cut_copy(bag, tmp_path / 'at_end', end), tmp_path / 'fixed1', written,
                           chunk.message_end_time)
    assert report.lost_bytes == 0 and report.reason == ''
    assert 'nothing unreadable' in report.line()
    # a few bytes into the message index records after it: those bytes are lost, no message
    report = check_salvage(store, cut_copy(bag, tmp_path / 'in_index', end + 12), tmp_path / 'fixed2', written,
                           chunk.message_end_time)
    assert report.lost_bytes == 12 and report.lost_start_ns is None


def test_a_closed_file_without_metadata_gives_every_message(tmp_path, store, closed):
    bag, written, _ = closed
    size = (bag / 'bag.mcap').stat().st_size
    report = check_salvage(store, cut_copy(bag, tmp_path / 'whole', size), tmp_path / 'fixed', written,
                           written[-1][1])
    assert report.lost_bytes == 0 and report.messages == len(written)


def test_not_an_mcap_file_is_named(tmp_path):
    bag = tmp_path / 'bag'
    bag.mkdir()
    (bag / 'bag.mcap').write_bytes(b'not mcap at all')
    with pytest.raises(BagError, match=r'bag\.mcap.*MCAP magic'):
        salvage_bag(bag, tmp_path / 'out')


def test_report_survives_json():
    report = SalvageReport(source='/x/bag/bag.mcap', file_bytes=100, lost_bytes=7, lost_start_ns=5,
                           lost_end_ns=9, reason='record cut short')
    report.topics['/a'] = __import__('clopy_data.salvage', fromlist=['TopicSpan']).TopicSpan(3, 1, 4)
    assert SalvageReport.from_json(report.to_json()) == report
    assert report.line() == ('kept 3 messages on 1 topics; last complete message (s after the first): '
                             '/a 0.000 s; 7 bytes unreadable at the end of bag.mcap (record cut short), '
                             'messages from 0.000 to 0.000 s lost')


def test_readable_bag_salvages_once_and_reuses_it(tmp_path, store, closed):
    bag, written, index = closed
    session = SessionFolder(tmp_path / 'session')
    session.path.mkdir()
    chunk = index[8]
    cut_copy(bag, session.bag, chunk.chunk_start_offset + 100)
    lines: list[str] = []
    # a closed bag is read as it is, silently
    assert readable_bag(bag, say=lines.append) == (bag, None)
    assert lines == []

    got, report = readable_bag(session.bag, say=lines.append)
    assert got == session.bag_salvaged == salvaged_bag_dir(session.bag) == session.path / 'bag_salvaged'
    assert (got / BAG_METADATA).is_file() and (got / SALVAGE_REPORT).is_file()
    assert report.lost_bytes == 100 and report.counts == topic_counts(got)
    assert len(lines) == 1 and 'not closed' in lines[0] and 'salvaged into' in lines[0]
    assert '100 bytes unreadable' in lines[0] and '\n' not in lines[0]
    assert [m.timestamp_ns for m in read_bag(got, store, topics=['/a'])] == \
        list(range(1000, index[7].message_end_time + 1))

    # the next call reads the same salvage (the bag file is not rewritten)
    mcap_stamp = (got / 'bag_salvaged.mcap').stat().st_mtime_ns
    again, report_again = readable_bag(session.bag, say=lines.append)
    assert again == got and report_again == report
    assert (got / 'bag_salvaged.mcap').stat().st_mtime_ns == mcap_stamp
    assert len(lines) == 2 and 'made earlier' in lines[1] and '100 bytes unreadable' in lines[1]

    # the recording changed after the salvage (a longer copy): salvaged again
    shutil.copyfile(bag / 'bag.mcap', session.bag / 'bag.mcap')
    later = (got / SALVAGE_REPORT).stat().st_mtime_ns + 1_000_000_000
    os.utime(session.bag / 'bag.mcap', ns=(later, later))
    _, fresh = readable_bag(session.bag, say=lines.append)
    assert fresh.lost_bytes == 0 and fresh.messages == len(written)
    assert len(lines) == 3 and 'salvaged into' in lines[2]


def test_readable_bag_redoes_a_salvage_cut_short(tmp_path, store, closed):
    """A salvage killed before its report was written is not trusted."""
    bag, written, index = closed
    cut = cut_copy(bag, tmp_path / 'bag', index[2].chunk_start_offset + 50)
    half = salvaged_bag_dir(cut)
    half.mkdir()
    (half / 'bag_salvaged.mcap').write_bytes(b'half')
    got, report = readable_bag(cut, say=lambda _: None)
    assert got == half and report.lost_bytes == 50
    assert [m.timestamp_ns for m in read_bag(got, store, topics=['/a'])] == \
        list(range(1000, index[1].message_end_time + 1))


def test_readable_bag_names_a_folder_without_a_bag(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(BagError, match=r'empty: no metadata\.yaml and 0 \.mcap files'):
        readable_bag(tmp_path / 'empty')
