"""The tone node's parameters (clopy_common.schema): declared by the node, applied by
the pre-flight check of `clopy run` and of the launch files. Plain Python, no rclpy."""
from clopy_common.schema import NodeSchema, Param

BACKENDS = ('sounddevice', 'wav')

TONE = NodeSchema('tone', [
    Param('backend', 'sounddevice', 'sounddevice: the sound card; wav (simulation): a WAV file', choices=BACKENDS),
    Param('wav_path', 'tones.wav', 'WAV file of the wav backend'),
    Param('sample_rate_hz', 44100, 'audio sample rate', unit='Hz', min=8000, max=192000),
    Param('blocksize', 128, 'samples per audio block (sounddevice)', unit='samples', min=16, max=8192),
    Param('device', '', 'sounddevice output device (empty = default)'),
    Param('amplitude', 0.5, 'sine amplitude', gt=0.0, max=1.0),
])
