"""Frame helpers shared by the frame-source tests."""
import numpy as np

N, H, W = 6, 12, 16


def bgr_stack(n=N, h=H, w=W):
    """Frames whose pixels encode (frame, channel) so mix-ups show."""
    stack = np.zeros((n, h, w, 3), np.uint8)
    for i in range(n):
        stack[i, ..., 0] = 10 + i      # blue
        stack[i, ..., 1] = 100 + i     # green
        stack[i, ..., 2] = 200 + i     # red
        stack[i, i % h, :, 0] = 0      # a per-frame stripe
    return stack


def read_all(source):
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    return frames


LEVELS = [20, 60, 100, 140, 180]
