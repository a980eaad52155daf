"""The camera's preview pace: at most rate_hz, only while watched, never when 0."""
from clopy_acquisition.preview import PreviewPace


class Clock:
    def __init__(self) -> None:
        self.t_s = 0.0

    def __call__(self) -> float:
        return self.t_s


def frames(pace: PreviewPace, clock: Clock, n: int, fps: float) -> list[int]:
    sent = []
    for i in range(n):
        clock.t_s = i / fps
        if pace.due():
            sent.append(i)
    return sent


def test_at_most_rate_hz_of_a_30_fps_camera():
    clock = Clock()
    pace = PreviewPace(4.0, lambda: 1, clock)
    sent = frames(pace, clock, 300, 30.0)   # 10 s
    assert 38 <= len(sent) <= 41
    assert all(b - a >= 7 for a, b in zip(sent, sent[1:]))   # >= 0.25 s apart at 30 fps


def test_nothing_while_nobody_watches_and_the_count_is_asked_once_a_period():
    clock = Clock()
    asked = []
    watchers = [0]

    def count() -> int:
        asked.append(clock.t_s)
        return watchers[0]

    pace = PreviewPace(4.0, count, clock)
    assert frames(pace, clock, 60, 30.0) == []
    assert 7 <= len(asked) <= 9          # 2 s: about 8 questions, not 60
    watchers[0] = 1
    clock.t_s = 10.0
    assert pace.due() and pace.sent == 1


def test_rate_zero_never_sends_nor_asks():
    pace = PreviewPace(0.0, lambda: (_ for _ in ()).throw(AssertionError('asked')), Clock())
    assert not any(pace.due() for _ in range(100))
