"""Tone node: plays the commanded frequency and reports when it reached the output.

Backends (chosen explicitly, never as a fallback):
- `sounddevice`: a phase-continuous sine on the sound card, 128-sample blocks;
- `wav`: simulation / headless. Writes exactly what would have been played to a
  WAV file, placing each command at its frame stamp, so the file is the same
  for the same commands live, in replay and offline.
Each new frequency is reported on `tone_event` (ToneEvent) with the time it
reached the output and its sample position. A full disk under the WAV file
(ENOSPC/EDQUOT) ends the session with one error line (`disk full: ...`), no traceback.
"""
from __future__ import annotations

import queue
import time

from clopy_common import qos
from clopy_common.intraprocess import hot_subscription
from clopy_common.node_main import StartupError, run_node
from clopy_common.session_end import SessionEnder, disk_error, disk_full
from clopy_common.stamps import from_s, to_s
from clopy_interfaces.msg import ToneCommand, ToneEvent
from rclpy.node import Node

from clopy_feedback.audio import AudioDeviceError, SoundDeviceOutput, WavSink
from clopy_feedback.tone_params import TONE


class ToneNode(Node):
    def __init__(self) -> None:
        super().__init__('tone')
        values = TONE.declare(self)
        self.backend = values['backend']
        rate = self.rate = values['sample_rate_hz']
        amplitude = values['amplitude']
        self.events = self.create_publisher(ToneEvent, qos.TONE_EVENT, qos.EVENT_QOS)
        self.ender = SessionEnder(self)
        hot_subscription(self, ToneCommand, qos.TONE, self.on_command, qos.COMMAND_QOS)
        self.upstream_topics = (qos.TONE,)  # on stop: until the task has gone
        self.current_hz = None
        self.linger_s = 0.3
        self._started = False
        self.last_stamp_s = None
        self.sink = None
        self.output = None
        self._reached: queue.SimpleQueue = queue.SimpleQueue()
        self._pending: dict[float, ToneCommand] = {}
        if self.backend == 'wav':
            path = values['wav_path']
            try:
                self.sink = WavSink(path, sample_rate_hz=rate, amplitude=amplitude)
            except (OSError, ValueError) as exc:
                raise StartupError(f'tone.wav_path = {path!r}: {exc}') from exc
            self.get_logger().info(f'simulated audio: writing {path}')
        else:
            device = values['device'] or None
            try:
                self.output = SoundDeviceOutput(rate, values['blocksize'], device,
                                                on_reached=self._on_reached, amplitude=amplitude)
                self.output.start()
            except (AudioDeviceError, ValueError) as exc:
                raise StartupError(f'tone.backend = sounddevice: {exc}') from exc
            # the audio thread only queues; events are published from the executor
            self.create_timer(0.005, self._drain_reached)
            self._clock_offset_s = time.time() - self.output.stream_time_s
            self.get_logger().info('audio output open')

    def on_command(self, cmd: ToneCommand) -> None:
        t_s = to_s(cmd.header.stamp)
        self.last_stamp_s = t_s
        if cmd.frequency_hz == self.current_hz:
            return
        self.current_hz = cmd.frequency_hz
        if self.sink is not None:
            if self.sink.closed:
                return   # the disk was full: the session is ending
            try:
                if not self._started:
                    # sample 0 of the WAV is the stamp of the first command (the task's start)
                    self.sink.start(t_s)
                    self._started = True
                sample = self.sink.command(t_s, cmd.frequency_hz)
            except OSError as exc:
                if not self._disk_full(exc):
                    raise
                return
            # reached the output = written to the file, now; its place in the file
            # (sample) follows the frame stamp, so the WAV is the same in any replay
            self._publish(cmd, self.get_clock().now().nanoseconds * 1e-9, sample)
        else:
            self._pending[cmd.frequency_hz] = cmd
            self.output.set_frequency(cmd.frequency_hz)

    def _on_reached(self, frequency_hz: float, dac_time_s: float) -> None:
        self._reached.put((frequency_hz, dac_time_s))

    def _drain_reached(self) -> None:
        while True:
            try:
                frequency_hz, dac_time_s = self._reached.get_nowait()
            except queue.Empty:
                return
            cmd = self._pending.pop(frequency_hz, None)
            if cmd is not None:
                sample = int(round(dac_time_s * self.rate))  # position on the stream clock
                self._publish(cmd, dac_time_s + self._clock_offset_s, sample)

    def _publish(self, cmd: ToneCommand, output_time_s: float, sample: int) -> None:
        event = ToneEvent()
        event.header = cmd.header
        event.frame_index = cmd.frame_index
        event.frequency_hz = cmd.frequency_hz
        event.output_time = from_s(output_time_s)
        event.sample_index = max(0, int(sample))
        self.events.publish(event)

    def _disk_full(self, exc: OSError) -> bool:
        """A full disk under the WAV file: close it as far as it goes, one error line, end
        the session with an error. False for any other OSError."""
        cause = disk_error(exc)
        if cause is None:
            return False
        try:
            self.sink.close()
        except OSError:
            pass   # the same full disk; what was flushed before stays in the file
        reason = disk_full(cause=f'{cause.strerror} ({self.sink.path})')
        self.ender.end(reason, error=True)   # logs the one error line
        return True

    def close(self) -> None:
        if self.sink is not None and not self.sink.closed:
            try:
                if self._started:
                    self.sink.close(self.last_stamp_s + 0.5 if self.last_stamp_s is not None else None)
                else:
                    self.sink.close()
            except OSError as exc:
                if not self._disk_full(exc):
                    raise
        if self.output is not None:
            self.output.close()


def main(args=None) -> int:
    return run_node(ToneNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
