"""GenICam cameras (USB3 Vision, GigE Vision: Sentech, Basler, FLIR, ...) through
Aravis 0.8 (PyGObject: ``gi.repository.Aravis``); ``camera.source: genicam``.

Opening:

* ``device_id`` an IPv4 address: a GigE Vision camera opened directly at that
  address (``Aravis.GvDevice.new``). Nothing is broadcast; the control packets go to
  that address only, from this computer's address on the route to it.
* any other ``device_id`` (Aravis's ``Vendor-Model-Serial`` id, a serial number, a
  USB3 Vision camera's id): looked up by Aravis. GigE Vision discovery (a broadcast
  on every network interface) is switched off unless ``gige_discovery`` is True, so
  such names find USB3 Vision cameras only.

Settings are applied with automatic exposure and gain off, then read back
(``settings``); a value outside the camera's range, or one the camera does not
take, is a SourceError naming the device, the parameter and what the camera allows.

Frames carry the camera's own timestamp (``Frame.device_stamp_ns``, ns on the
camera's clock: GigE Vision ticks converted by Aravis with the camera's tick
frequency, USB3 Vision ns) and the host's arrival time as ``capture_time_s``
(Aravis's system timestamp of the buffer, moved to the monotonic clock). Frames lost
between two delivered ones (incomplete, or sent while no buffer was free) are counted
from the gaps in the camera's frame ids (GigE Vision's 16-bit block ids wrap from
65535 to 1). Acquisition starts at the first read(), so frames before the graph is
ready are neither sent nor counted.
"""
from __future__ import annotations

import ipaddress
import socket
import time
from typing import Any

from .frame_source import Frame, FrameSource, SourceError, check_size_rate
from .genicam_pixels import PIXEL_FORMAT_ALIASES, PIXEL_FORMATS, frame_encoding, to_image

#: genicam.trigger_edge -> the GenICam TriggerActivation entry
TRIGGER_EDGES = {'rising': 'RisingEdge', 'falling': 'FallingEdge', 'any': 'AnyEdge'}
GEV_BLOCK_ID_MAX = 65535   # GigE Vision 1.x block ids: 1 to 65535, then 1 again
GIGE_CONTROL_PORT = 3956
POP_SLICE_US = 100_000   # one wait for a buffer; read() waits in such slices up to frame_timeout_s


def import_aravis():
    """(Aravis, Gio, GLib) from PyGObject; SourceError saying what to install when missing."""
    try:
        import gi
        gi.require_version('Aravis', '0.8')
        from gi.repository import Aravis, Gio, GLib
    except (ImportError, ValueError) as exc:
        raise SourceError(
            f'camera.source = genicam needs PyGObject (gi) and Aravis 0.8 ({type(exc).__name__}: {exc}); '
            'on Debian/Ubuntu: sudo apt install python3-gi gir1.2-aravis-0.8, then run scripts/setup.sh '
            '(it makes the system gi importable from .venv)') from exc
    return Aravis, Gio, GLib


def ipv4_or_none(device_id: str) -> str | None:
    """The address if ``device_id`` is an IPv4 address, else None."""
    try:
        return str(ipaddress.IPv4Address(device_id.strip()))
    except ValueError:
        return None


def local_address_for(address: str) -> str:
    """This computer's address on the route to ``address`` (connect() on a UDP socket
    only looks the route up; it sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((address, GIGE_CONTROL_PORT))
        return sock.getsockname()[0]


def frames_between(last_id: int | None, frame_id: int) -> int:
    """Frames the camera sent between frame ids ``last_id`` (None: none read yet) and
    ``frame_id``: GigE Vision 1.x ids run 1 to 65535 and wrap to 1; 64-bit ids (USB3
    Vision, GigE Vision 2) do not wrap (a smaller id: the camera restarted, 0)."""
    if last_id is None:
        return 0
    if frame_id > last_id:
        return frame_id - last_id - 1
    if last_id <= GEV_BLOCK_ID_MAX:
        return GEV_BLOCK_ID_MAX - last_id + frame_id - 1
    return 0


class GenicamSource(FrameSource):
    """A GenICam camera through Aravis.

    Args:
        device_id: IPv4 address (GigE Vision, opened directly) or Aravis device id /
            serial number (USB3 Vision; GigE Vision only with gige_discovery).
        width_px, height_px: region of interest, centred on the sensor.
        fps: frame rate, Hz (the camera's AcquisitionFrameRate; with the hardware
            trigger the pulse rate sets it and fps is the expected rate).
        exposure_us: fixed exposure time, us (automatic exposure off).
        gain_db: fixed gain (automatic gain off); the camera's Gain feature (dB under
            the GenICam naming convention) or, on cameras with only GainRaw, its raw units.
        pixel_format: one of PIXEL_FORMATS (Bayer formats are demosaiced to BGR).
        trigger: True: one frame per edge on trigger_line (TriggerMode On, FrameStart).
        trigger_line: the TriggerSource entry, e.g. 'Line0'.
        trigger_edge: 'rising', 'falling' or 'any'.
        buffer_count: frame buffers queued in the stream.
        frame_timeout_s: no frame this long is an error.
        gige_discovery: allow Aravis's GigE Vision discovery broadcast for names that
            are not an address.
        packet_size_bytes: GigE Vision stream packet size (0: Aravis's own choice).
    """

    live = True

    def __init__(self, device_id: str = '', width_px: int = 256, height_px: int = 256, fps: float = 15.0,
                 exposure_us: float = 10000.0, gain_db: float = 0.0, pixel_format: str = 'Mono8',
                 trigger: bool = False, trigger_line: str = 'Line0', trigger_edge: str = 'rising',
                 buffer_count: int = 8, frame_timeout_s: float = 5.0, gige_discovery: bool = False,
                 packet_size_bytes: int = 0) -> None:
        super().__init__()
        check_size_rate(width_px, height_px, fps)
        self.device_id = str(device_id).strip()
        if not self.device_id:
            raise ValueError('genicam.device_id is empty: give the camera\'s IPv4 address (GigE Vision) or its '
                             'Aravis device id or serial number (USB3 Vision; `arv-tool-0.8` of Debian\'s '
                             'aravis-tools-cli lists them)')
        if not exposure_us > 0:
            raise ValueError(f'genicam.exposure_us = {exposure_us!r}: must be > 0')
        if not trigger and exposure_us > 1e6 / fps:
            raise ValueError(f'genicam.exposure_us = {exposure_us:g} does not fit in one frame at '
                             f'camera.frame_rate_hz = {fps:g} ({1e6 / fps:.0f} us)')
        if pixel_format not in PIXEL_FORMATS:
            raise ValueError(f'genicam.pixel_format = {pixel_format!r}: allowed: {list(PIXEL_FORMATS)}')
        if trigger_edge not in TRIGGER_EDGES:
            raise ValueError(f'genicam.trigger_edge = {trigger_edge!r}: allowed: {list(TRIGGER_EDGES)}')
        if not 2 <= int(buffer_count) <= 1000:
            raise ValueError(f'genicam.buffer_count = {buffer_count!r}: allowed 2 to 1000')
        if not frame_timeout_s > 0:
            raise ValueError(f'genicam.frame_timeout_s = {frame_timeout_s!r}: must be > 0')
        self.width_px, self.height_px = int(width_px), int(height_px)
        self.nominal_fps = float(fps)
        self.exposure_us, self.gain_db = float(exposure_us), float(gain_db)
        self.pixel_format = pixel_format
        self.encoding = frame_encoding(pixel_format)
        self.trigger, self.trigger_line, self.trigger_edge = bool(trigger), str(trigger_line), trigger_edge
        self.buffer_count, self.frame_timeout_s = int(buffer_count), float(frame_timeout_s)
        self.gige_discovery, self.packet_size_bytes = bool(gige_discovery), int(packet_size_bytes)
        #: what the camera reports after the settings were applied (GenICam feature names)
        self.settings: dict[str, Any] = {}
        self.model = ''
        self.frames_read = 0
        self.frames_lost = 0
        self._aravis = self._glib = self._camera = self._stream = None
        self._last_frame_id: int | None = None
        self._started = False

    def describe(self) -> str:
        return f'GenICam camera {self.device_id!r}' + (f' ({self.model})' if self.model else '')

    # --- opening -----------------------------------------------------------------------
    def _open(self) -> None:
        self._aravis, gio, self._glib = import_aravis()
        camera = self._connect(gio)
        try:
            self.model = ' '.join(filter(None, (camera.get_vendor_name(), camera.get_model_name(),
                                                f'serial {camera.get_device_serial_number()}')))
            self._configure(camera)
            self._start(camera)
        except self._glib.Error as exc:
            self._stop_camera(camera)
            raise SourceError(f'{self.describe()}: {exc.message}') from exc
        except SourceError:
            self._stop_camera(camera)
            raise
        self._camera = camera

    def _connect(self, gio):
        Aravis, GLib = self._aravis, self._glib
        address = ipv4_or_none(self.device_id)
        if address is not None:
            try:
                local = local_address_for(address)
            except OSError as exc:
                raise SourceError(f'GenICam camera {address!r} (genicam.device_id): no route from this computer '
                                  f'({exc}); check that a network interface is on the camera\'s subnet') from exc
            try:
                device = Aravis.GvDevice.new(gio.InetAddress.new_from_string(local),
                                             gio.InetAddress.new_from_string(address))
                return Aravis.Camera.new_with_device(device)
            except GLib.Error as exc:
                raise SourceError(
                    f'GenICam camera {address!r} (genicam.device_id) does not answer as a GigE Vision camera '
                    f'from {local} ({exc.message}); check that it is powered and cabled, that its address is '
                    f'{address} (its persistent IP or DHCP lease) and that no firewall blocks UDP port '
                    f'{GIGE_CONTROL_PORT}') from exc
        # by name: USB3 Vision always; GigE Vision only when its broadcast is allowed
        if self.gige_discovery:
            Aravis.enable_interface('GigEVision')
        else:
            Aravis.disable_interface('GigEVision')
        try:
            camera = Aravis.Camera.new(self.device_id)
        except GLib.Error as exc:
            camera, message = None, exc.message
        else:
            message = 'not found'
        if camera is None:
            gige = ('GigE Vision discovery was on' if self.gige_discovery else
                    'GigE Vision cameras are found by name only with genicam.gige_discovery: true; '
                    'better give the camera\'s IPv4 address')
            raise SourceError(
                f'GenICam camera {self.device_id!r} (genicam.device_id) cannot be opened ({message}); check that it '
                f'is plugged in and powered, the id (`arv-tool-0.8` of Debian\'s aravis-tools-cli lists the cameras '
                f'Aravis sees), the USB3 permissions (udev rules of aravis) and that no other program holds it; {gige}')
        return camera

    def _configure(self, camera) -> None:
        Aravis = self._aravis
        self._set_pixel_format(camera)
        self._set_region(camera)
        if camera.is_exposure_auto_available():
            self._call('genicam.exposure_us', 'ExposureAuto', 'Off', camera.set_exposure_time_auto, Aravis.Auto.OFF)
        if camera.is_gain_auto_available():
            self._call('genicam.gain_db', 'GainAuto', 'Off', camera.set_gain_auto, Aravis.Auto.OFF)
        self._set_float(camera, 'genicam.exposure_us', 'ExposureTime', self.exposure_us,
                        camera.get_exposure_time_bounds, camera.set_exposure_time, camera.get_exposure_time, 'us')
        if camera.is_gain_available():
            self._set_float(camera, 'genicam.gain_db', 'Gain', self.gain_db, camera.get_gain_bounds,
                            camera.set_gain, camera.get_gain, '')
        elif self.gain_db:
            raise SourceError(f'{self.describe()}: genicam.gain_db = {self.gain_db:g}: the camera has no gain '
                              'feature; leave it at 0')
        if self.trigger:
            self._set_trigger(camera)
        else:
            self._trigger_off(camera)
            self._set_float(camera, 'camera.frame_rate_hz', 'AcquisitionFrameRate', self.nominal_fps,
                            camera.get_frame_rate_bounds, camera.set_frame_rate, camera.get_frame_rate, 'Hz')
            rate = self.settings['AcquisitionFrameRate']
            if abs(rate - self.nominal_fps) > 0.01 * self.nominal_fps:
                raise SourceError(f'{self.describe()}: camera.frame_rate_hz = {self.nominal_fps:g}: the camera runs '
                                  f'at {rate:g} Hz; check the exposure, the pixel format and the link bandwidth')
        if self.packet_size_bytes and camera.is_gv_device():
            self._call('genicam.packet_size_bytes', 'GevSCPSPacketSize', self.packet_size_bytes,
                       camera.gv_set_packet_size, self.packet_size_bytes)
            self.settings['GevSCPSPacketSize'] = camera.gv_get_packet_size()

    def _call(self, key: str, feature: str, value, setter, *args):
        try:
            return setter(*args)
        except self._glib.Error as exc:
            raise SourceError(f'{self.describe()}: {key} = {value!r} cannot be set ({feature}: {exc.message})') from exc

    def _set_float(self, camera, key, feature, value, bounds, setter, getter, unit) -> None:
        low, high = bounds()
        if not low <= value <= high:
            raise SourceError(f'{self.describe()}: {key} = {value:g} is outside the camera\'s {feature} range '
                              f'{low:g} to {high:g} {unit}'.rstrip())
        self._call(key, feature, value, setter, value)
        self.settings[feature] = getter()

    def _entries(self, camera, feature: str) -> list[str]:
        try:
            return list(camera.dup_available_enumerations_as_strings(feature))
        except self._glib.Error:
            return []

    def _set_enum(self, camera, key: str, feature: str, value: str, given: str | None = None) -> None:
        """Set enumeration ``feature`` to ``value``; ``given``: the parameter's own value when it differs."""
        shown = f'{given!r} ({feature} {value})' if given is not None else repr(value)
        if not camera.is_feature_available(feature):
            raise SourceError(f'{self.describe()}: {key} = {shown}: the camera has no {feature} feature')
        try:
            camera.set_string(feature, value)
        except self._glib.Error as exc:
            raise SourceError(f'{self.describe()}: {key} = {shown} cannot be set ({exc.message}); '
                              f'the camera allows {feature} {self._entries(camera, feature)}') from exc
        self.settings[feature] = camera.get_string(feature)

    def _set_pixel_format(self, camera) -> None:
        available = self._entries(camera, 'PixelFormat')
        name = self.pixel_format
        if name not in available and PIXEL_FORMAT_ALIASES.get(name) in available:
            name = PIXEL_FORMAT_ALIASES[name]
        if name not in available:
            raise SourceError(f'{self.describe()}: genicam.pixel_format = {self.pixel_format!r}: the camera offers '
                              f'{available}; allowed here: {list(PIXEL_FORMATS)}')
        self._set_enum(camera, 'genicam.pixel_format', 'PixelFormat', name)

    def _set_region(self, camera) -> None:
        sensor_w, sensor_h = camera.get_sensor_size()
        w, h = self.width_px, self.height_px
        if w > sensor_w or h > sensor_h:
            raise SourceError(f'{self.describe()}: camera.width_px x camera.height_px = {w}x{h} is larger than '
                              f'the sensor, {sensor_w}x{sensor_h} px')
        x_inc, y_inc = max(1, camera.get_x_offset_increment()), max(1, camera.get_y_offset_increment())
        x, y = (sensor_w - w) // 2 // x_inc * x_inc, (sensor_h - h) // 2 // y_inc * y_inc
        self._call('camera.width_px', 'Width', w, camera.set_region, x, y, w, h)
        got = camera.get_region()
        self.settings.update(OffsetX=got[0], OffsetY=got[1], Width=got[2], Height=got[3])
        if (got[2], got[3]) != (w, h):
            raise SourceError(f'{self.describe()}: camera.width_px x camera.height_px = {w}x{h}: the camera gives '
                              f'{got[2]}x{got[3]}; widths in steps of {camera.get_width_increment()} px, heights '
                              f'in steps of {camera.get_height_increment()} px')

    def _trigger_off(self, camera) -> None:
        if camera.is_feature_available('TriggerMode'):
            if camera.is_feature_available('TriggerSelector'):
                self._set_enum(camera, 'genicam.trigger', 'TriggerSelector', 'FrameStart')
            self._set_enum(camera, 'genicam.trigger', 'TriggerMode', 'Off')

    def _set_trigger(self, camera) -> None:
        if camera.is_feature_available('TriggerSelector'):
            self._set_enum(camera, 'genicam.trigger', 'TriggerSelector', 'FrameStart')
        self._set_enum(camera, 'genicam.trigger', 'TriggerMode', 'On')
        self._set_enum(camera, 'genicam.trigger_line', 'TriggerSource', self.trigger_line)
        edge = TRIGGER_EDGES[self.trigger_edge]
        if camera.is_feature_available('TriggerActivation'):
            self._set_enum(camera, 'genicam.trigger_edge', 'TriggerActivation', edge, self.trigger_edge)
        elif edge != 'RisingEdge':
            raise SourceError(f'{self.describe()}: genicam.trigger_edge = {self.trigger_edge!r}: the camera has no '
                              'TriggerActivation feature (it triggers on rising edges only)')

    def _start(self, camera) -> None:
        Aravis = self._aravis
        stream = camera.create_stream(None, None)
        if stream is None:
            raise SourceError(f'{self.describe()}: no stream could be created; check that no other program '
                              'streams from the camera')
        payload = camera.get_payload()
        for _ in range(self.buffer_count):
            stream.push_buffer(Aravis.Buffer.new_allocate(payload))
        self._stream = stream
        camera.set_acquisition_mode(Aravis.AcquisitionMode.CONTINUOUS)
        self._last_frame_id, self._started = None, False

    def software_trigger(self) -> None:
        """One frame now (TriggerSoftware), with genicam.trigger on and trigger_line 'Software'
        (a rig check without the trigger wiring)."""
        if not self.is_open:
            raise SourceError(f'{self.describe()}: software_trigger() before open()')
        self._call('genicam.trigger_line', 'TriggerSoftware', self.trigger_line, self._camera.software_trigger)

    # --- reading -------------------------------------------------------------------------
    def _read(self) -> Frame | None:
        Aravis = self._aravis
        if not self._started:
            try:
                self._camera.start_acquisition()
            except self._glib.Error as exc:
                raise SourceError(f'{self.describe()}: acquisition does not start ({exc.message}); check that no '
                                  'other program streams from the camera') from exc
            self._started = True
        deadline = time.monotonic() + self.frame_timeout_s
        while True:
            buffer = self._stream.timeout_pop_buffer(POP_SLICE_US)
            if buffer is not None:
                if buffer.get_status() == Aravis.BufferStatus.SUCCESS:
                    break
                self._stream.push_buffer(buffer)   # incomplete: a gap in the frame ids
            if time.monotonic() > deadline:
                what = (f'pulses on {self.trigger_line} ({self.trigger_edge} edges)' if self.trigger else
                        'the cable, the link bandwidth (GigE: packet size, other traffic)')
                raise SourceError(f'{self.describe()}: no complete frame for {self.frame_timeout_s:g} s '
                                  f'(genicam.frame_timeout_s); check {what}')
        try:
            image = to_image(buffer.get_image_data(), buffer.get_image_pixel_format(), buffer.get_image_width(),
                             buffer.get_image_height(), buffer.get_image_padding()[0])
            device_ns = int(buffer.get_timestamp())
            arrival_ns = int(buffer.get_system_timestamp())
            frame_id = int(buffer.get_frame_id())
        except ValueError as exc:
            raise SourceError(f'{self.describe()}: {exc}') from exc
        finally:
            self._stream.push_buffer(buffer)
        # Aravis stamps arrival on the wall clock; capture_time_s is on the monotonic one
        capture_s = (arrival_ns - time.time_ns() + time.monotonic_ns()) / 1e9
        dropped = frames_between(self._last_frame_id, frame_id)
        self._last_frame_id = frame_id
        self.frames_read += 1
        self.frames_lost += dropped
        return Frame(image, capture_s, dropped, device_stamp_ns=device_ns or None)

    # --- closing -------------------------------------------------------------------------
    def _stop_camera(self, camera) -> None:
        """Stop streaming and give up control of the camera (a GigE Vision camera takes
        one controller: the next open, here or in another program, needs it back even
        while an error's traceback still holds this camera object)."""
        for step in (camera.stop_acquisition, self._leave_control(camera)):
            try:
                step()
            except self._glib.Error:
                pass   # the camera is gone (unplugged): nothing left to stop
        self._stream = None

    def _leave_control(self, camera):
        device = camera.get_device()
        return device.leave_control if isinstance(device, self._aravis.GvDevice) else (lambda: None)

    def _close(self) -> None:
        self._stop_camera(self._camera)
        self._camera = None

    def summary(self) -> str:
        """The settings the camera reported and the frame counts (logged at the end)."""
        settings = ', '.join(f'{k} {v:g}' if isinstance(v, float) else f'{k} {v}' for k, v in self.settings.items())
        return f'{self.describe()}: {settings}; {self.frames_read} frames, {self.frames_lost} lost'
