"""The CLMF stillness condition, for task files: "the paw has been still", i.e. the
mean control-point speed over the last `window_s` is below a level. One
implementation serves the speed node and the task: clopy_signal.speed."""
from clopy_signal.speed import StillnessDetector as StillnessWindow

__all__ = ['StillnessWindow']
