"""GenICam pixel formats the GenICam camera source delivers, and their conversion to
the project's frames (uint8 mono8 (H, W) or bgr8 (H, W, 3)). Plain Python + numpy
(OpenCV only for Bayer demosaicing)."""
from __future__ import annotations

import numpy as np

#: PFNC codes (GenICam Pixel Format Naming Convention) of the 8-bit formats, by name.
PIXEL_FORMAT_CODES: dict[str, int] = {
    'Mono8': 0x01080001,
    'BayerGR8': 0x01080008,
    'BayerRG8': 0x01080009,
    'BayerGB8': 0x0108000A,
    'BayerBG8': 0x0108000B,
    'RGB8': 0x02180014,
    'BGR8': 0x02180015,
}
#: The names older cameras (GigE Vision 1.x) give the same formats.
PIXEL_FORMAT_ALIASES: dict[str, str] = {'RGB8': 'RGB8Packed', 'BGR8': 'BGR8Packed'}
#: The values genicam.pixel_format allows.
PIXEL_FORMATS: tuple[str, ...] = tuple(PIXEL_FORMAT_CODES)

# A GenICam Bayer name gives the colours of the top-left 2x2 block's first row
# (BayerRG: R G / G B). OpenCV names its Bayer codes after the second row's second
# and third pixels, so each GenICam pattern maps to the OpenCV code of the pattern
# shifted by one row and one column.
_BAYER_TO_CV = {'BayerRG8': 'COLOR_BayerBG2BGR', 'BayerGR8': 'COLOR_BayerGB2BGR',
                'BayerGB8': 'COLOR_BayerGR2BGR', 'BayerBG8': 'COLOR_BayerRG2BGR'}
_NAMES = {code: name for name, code in PIXEL_FORMAT_CODES.items()}


def format_name(code: int) -> str:
    """The PFNC name of ``code`` among PIXEL_FORMATS, else its hex code."""
    return _NAMES.get(int(code), f'0x{int(code):08x}')


def frame_encoding(pixel_format: str) -> str:
    """'mono8' for Mono8, 'bgr8' for the colour and Bayer formats."""
    return 'mono8' if pixel_format == 'Mono8' else 'bgr8'


def to_image(data: bytes, code: int, width_px: int, height_px: int, padding_x_bytes: int = 0) -> np.ndarray:
    """A uint8 image from a buffer of pixel format ``code``: (H, W) for Mono8, else
    BGR (H, W, 3) (Bayer patterns demosaiced). Each line may end in
    ``padding_x_bytes`` of padding.

    Raises:
        ValueError: a format outside PIXEL_FORMATS, or fewer bytes than the size needs.
    """
    name = format_name(code)
    if name not in PIXEL_FORMAT_CODES:
        raise ValueError(f'pixel format {name} is not one of {list(PIXEL_FORMATS)}')
    channels = 3 if name in ('RGB8', 'BGR8') else 1
    stride = width_px * channels + int(padding_x_bytes)
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size < stride * height_px:
        raise ValueError(f'{name} {width_px}x{height_px} px needs {stride * height_px} bytes, '
                         f'the buffer has {raw.size}')
    lines = raw[:stride * height_px].reshape(height_px, stride)[:, :width_px * channels]
    if name == 'Mono8':
        return np.ascontiguousarray(lines)
    if channels == 3:
        image = lines.reshape(height_px, width_px, 3)
        return np.ascontiguousarray(image[:, :, ::-1] if name == 'RGB8' else image)
    import cv2
    return cv2.cvtColor(np.ascontiguousarray(lines), getattr(cv2, _BAYER_TO_CV[name]))
