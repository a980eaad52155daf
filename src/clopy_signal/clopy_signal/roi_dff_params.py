"""The roi_dff node's parameters (clopy_common.schema): declared by the node, applied by
the pre-flight check of `clopy run` and of the launch files. Plain Python, no rclpy."""
from clopy_common.schema import NodeSchema, Param

from clopy_signal.dff import CORRECTIONS
from clopy_signal.quality import DEFAULT_MIN_F0

ROI_DFF = NodeSchema('roi_dff', [
    Param('rois', ['M1_L'], "atlas regions with side ('BC_L') or 'name=row,col,height,width' in px"),
    Param('rule', '', "control rule over ROI names with + - * / ( ), e.g. 'BC_L-BC_R'; empty = the single ROI"),
    Param('frame_width_px', 256, 'expected frame width', unit='px', min=1, max=8192),
    Param('frame_height_px', 256, 'expected frame height', unit='px', min=1, max=8192),
    Param('bregma_row_px', 135.0, 'bregma row in the frame', unit='px', min=0.0, max=8192.0),
    Param('bregma_col_px', 128.0, 'bregma column in the frame', unit='px', min=0.0, max=8192.0),
    Param('px_per_mm', 25.6, 'image scale', unit='px/mm', gt=0.0, max=10000.0),
    Param('roi_size_mm', 0.3, 'side of an atlas ROI square', unit='mm', gt=0.0, max=20.0),
    Param('dff_history_s', 6.0, 'F0 = mean of the previous dff_history_s of frames', unit='s', gt=0.0, max=600.0),
    Param('frame_rate_hz', 15.0, 'camera frame rate, to turn dff_history_s into frames', unit='Hz',
          gt=0.0, max=1000.0),
    Param('correction', 'green_minus_blue', 'haemodynamic correction of the frames', choices=CORRECTIONS),
    Param('min_f0', DEFAULT_MIN_F0, 'F0 floor: a frame where a ROI\'s baseline (mean F0, lowest channel) is below '
          'it gives an invalid control signal (never rewarded); lit cortex is tens to hundreds of counts, a dark '
          'frame a few', unit='counts', min=0.0, max=65535.0),
])
