"""Recorded-file sources: original CLoPy HDF5 streams, multi-page TIFFs and video
files. Not live: the camera node paces them at its frame rate."""
from __future__ import annotations

import os

import numpy as np

from .frame_source import Frame, FrameSource, SourceError, check_file, image_encoding


class Hdf5Source(FrameSource):
    """Replay an original CLoPy ``image_stream.hdf5``.

    The dataset is N x H x W x 3 BGR uint8 (or N x H x W mono uint8); frames
    are read one at a time, so the file is never loaded whole.

    Args:
        path: HDF5 file.
        dataset: dataset path inside the file (``'/raw_images'`` in CLoPy).
        fps: replay rate to report as ``nominal_fps`` (15 Hz in CLNF).
    """

    live = False

    def __init__(self, path: str, dataset: str = '/raw_images',
                 fps: float | None = 15.0) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.dataset = dataset
        self.nominal_fps = fps
        self._file = None
        self._data = None
        self._index = 0

    def describe(self) -> str:
        return f'HDF5 {self.path!r}'

    def _open(self) -> None:
        import h5py

        check_file(self.path, 'HDF5')
        try:
            handle = h5py.File(self.path, 'r')
        except OSError as exc:
            raise SourceError(
                f'HDF5 file {self.path!r} cannot be opened: {exc}') from exc
        try:
            if self.dataset not in handle:
                available = []
                handle.visit(lambda name: available.append('/' + name)
                             if isinstance(handle[name], h5py.Dataset)
                             else None)
                raise SourceError(
                    f'HDF5 file {self.path!r} has no dataset {self.dataset!r};'
                    f' datasets present: {available}')
            data = handle[self.dataset]
            if not isinstance(data, h5py.Dataset):
                raise SourceError(
                    f'HDF5 file {self.path!r}: {self.dataset!r} is a group, '
                    f'not an image dataset')
            encoding = image_encoding(data.shape[1:])
            if data.ndim not in (3, 4) or encoding is None:
                raise SourceError(
                    f'HDF5 file {self.path!r}: dataset {self.dataset!r} has '
                    f'shape {data.shape}; expected N x H x W x 3 (BGR) or '
                    f'N x H x W (mono)')
            if data.dtype != np.uint8:
                raise SourceError(
                    f'HDF5 file {self.path!r}: dataset {self.dataset!r} has '
                    f'dtype {data.dtype}; expected uint8')
        except BaseException:
            handle.close()
            raise
        self._file, self._data = handle, data
        self.frame_count = int(data.shape[0])
        self.height_px, self.width_px = int(data.shape[1]), int(data.shape[2])
        self.encoding = encoding
        self._index = 0

    def _read(self) -> Frame | None:
        if self._index >= self.frame_count:
            return None
        try:
            image = self._data[self._index]
        except OSError as exc:
            raise SourceError(
                f'HDF5 file {self.path!r}: frame {self._index} cannot be read:'
                f' {exc}') from exc
        self._index += 1
        return Frame(np.ascontiguousarray(image))

    def _close(self) -> None:
        self._file.close()
        self._file = self._data = None


class TiffSource(FrameSource):
    """Replay a multi-page TIFF, one page per frame, read lazily.

    Pages must be uint8, either mono (H, W) or RGB (H, W, 3; converted to
    BGR). An RGBA page loses its alpha channel.

    Args:
        path: TIFF file.
        fps: replay rate to report as ``nominal_fps``.
    """

    live = False

    def __init__(self, path: str, fps: float | None = 15.0) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.nominal_fps = fps
        self._tif = None
        self._first: np.ndarray | None = None
        self._index = 0
        self._shape: tuple[int, ...] = ()

    def describe(self) -> str:
        return f'TIFF {self.path!r}'

    def _open(self) -> None:
        import tifffile

        check_file(self.path, 'TIFF')
        try:
            tif = tifffile.TiffFile(self.path)
        except Exception as exc:   # tifffile raises several types
            raise SourceError(
                f'TIFF file {self.path!r} cannot be opened: {exc}') from exc
        try:
            # No page cache: only page offsets are kept, and only the page
            # being read has its pixels in memory. (TiffFrames are not used:
            # they assume every page has page 0's shape.)
            tif.pages.cache = False
            first = self._page_image(tif, 0)
            if first is None:
                raise SourceError(f'TIFF file {self.path!r} has no pages')
        except BaseException:
            tif.close()
            raise
        self._tif = tif
        self._shape = first.shape
        self.height_px, self.width_px = first.shape[:2]
        self.encoding = image_encoding(first.shape)
        self._first = first
        self._index = 0

    def _page_image(self, tif, index: int) -> np.ndarray | None:
        try:
            page = tif.pages[index]
        except IndexError:
            return None
        try:
            image = page.asarray()
        except Exception as exc:
            raise SourceError(
                f'TIFF file {self.path!r}: page {index} cannot be decoded: '
                f'{exc}') from exc
        if image.dtype != np.uint8:
            raise SourceError(
                f'TIFF file {self.path!r}: page {index} has dtype '
                f'{image.dtype}; only uint8 pages are supported (convert '
                f'16-bit stacks to 8 bit first)')
        if image.ndim == 3 and getattr(page, 'axes', '').startswith('S'):
            image = np.moveaxis(image, 0, -1)   # planar (S, H, W) -> (H, W, S)
        if image.ndim == 3 and image.shape[2] == 4:
            image = image[..., :3]
        if image.ndim == 3 and image.shape[2] == 3:
            image = np.ascontiguousarray(image[..., ::-1])   # RGB -> BGR
        elif image.ndim != 2:
            raise SourceError(
                f'TIFF file {self.path!r}: page {index} has shape '
                f'{image.shape}; expected (H, W) mono or (H, W, 3) RGB')
        if self._shape and image.shape != self._shape:
            raise SourceError(
                f'TIFF file {self.path!r}: page {index} has shape '
                f'{image.shape}, but page 0 has {self._shape}')
        return image

    def _read(self) -> Frame | None:
        if self._index == 0:
            image = self._first
            self._first = None
        else:
            image = self._page_image(self._tif, self._index)
            if image is None:
                return None
        self._index += 1
        return Frame(image)

    def _close(self) -> None:
        self._tif.close()
        self._tif = None
        self._first = None


class VideoFileSource(FrameSource):
    """Replay a video file through OpenCV (frames arrive as BGR).

    Args:
        path: video file (AVI, MP4, ... whatever the OpenCV build decodes).
    """

    live = False

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self._cap = None
        self._pending: np.ndarray | None = None

    def describe(self) -> str:
        return f'video {self.path!r}'

    def _open(self) -> None:
        import cv2

        check_file(self.path, 'video')
        cap = cv2.VideoCapture(self.path)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f'video file {self.path!r} cannot be opened by OpenCV (unknown '
                f'container/codec or not a video)')
        # Decode the first frame now so an undecodable file fails at open(),
        # and so the size is the real decoded size.
        ok, image = cap.read()
        if not ok or image is None:
            cap.release()
            raise SourceError(
                f'video file {self.path!r} opened but no frame could be '
                f'decoded')
        self._cap = cap
        self._pending = image
        self.height_px, self.width_px = image.shape[:2]
        self.encoding = image_encoding(image.shape) or 'bgr8'
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.nominal_fps = float(fps) if fps and fps > 0 else None
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        # Container frame counts can be estimates; report only positive ones.
        self.frame_count = count if count > 0 else None

    def _read(self) -> Frame | None:
        if self._pending is not None:
            image, self._pending = self._pending, None
            return Frame(image)
        ok, image = self._cap.read()
        if not ok or image is None:
            return None
        return Frame(image)

    def _close(self) -> None:
        self._cap.release()
        self._cap = None
        self._pending = None
