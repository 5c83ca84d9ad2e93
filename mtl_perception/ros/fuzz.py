# Copyright 2026 mtl_perception maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Hostile camera input for the node: seeded mutations, what the node must do with each, a runner.

Each case is a message (Image, CompressedImage or CameraInfo) made from a valid one by one
named mutation (a zero width, a JPEG header claiming 8000x8000, fx = 5e-324, a 72 kB encoding,
a stamp an hour back ...), and the outcome the node must report: answered, or rejected under
a given reason. The expected outcome comes from :class:`Oracle`, which applies the node's own
rules (the pure conversions and :class:`~mtl_perception.ros.stream.StampClock`) in the order
the node does, so a run checks that the node, over DDS, does what its parts promise: no
crash, every valid frame answered, every counter equal to what was sent.

Used by ``test/test_fuzz_dds.py`` (a short run) and ``mtl_stress fuzz`` (the long one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
import copy
from dataclasses import dataclass, field
import time
from typing import Any

import cv2
from mtl_perception.ros import conversions
from mtl_perception.ros.node import MIN_IMAGE_SIDE_PX
from mtl_perception.ros.stream import NS_PER_S, StampClock, StampVerdict
import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

ANSWERED = 'answered'
CALLBACK, WORKER, INFO = 'callback', 'worker', 'info'


@dataclass
class Case:
    """One message to send and what the node must do with it."""

    topic: str  # 'image', 'compressed' or 'camera_info'
    category: str  # the mutation's name
    message: Any
    expected: str = ANSWERED  # 'answered' or the rejection reason ('bad_image' ...)
    stage: str = CALLBACK  # where the node decides: in the callback, the worker, or info
    clock_jump: bool = False


# ------------------------------------------------------------------------------------------
# Valid messages
# ------------------------------------------------------------------------------------------

_COLOUR_ENCODINGS = ('rgb8', 'bgr8', 'mono8', 'rgba8', 'bgra8', 'mono16', 'rgb16', 'bgr16',
                     '8UC3', '8UC1', 'bayer_rggb8', 'bayer_gbrg8', 'yuv422', 'yuyv')


def _stamp(message: Any, stamp_ns: int) -> None:
    message.header.stamp.sec = int(stamp_ns // NS_PER_S)
    message.header.stamp.nanosec = int(stamp_ns % NS_PER_S)


def stamp_ns_of(message: Any) -> int:
    return message.header.stamp.sec * NS_PER_S + message.header.stamp.nanosec


def valid_image(rng: np.random.Generator, stamp_ns: int) -> Image:
    """Return a random small image in one of the colour encodings the node reads."""
    encoding = str(rng.choice(_COLOUR_ENCODINGS))
    width, height = int(rng.integers(8, 97)) & ~1, int(rng.integers(8, 73))
    element, channels = conversions.image_encoding_layout(encoding)
    shape = (height, width, channels) if channels > 1 else (height, width)
    pixels = rng.integers(0, np.iinfo(element).max, shape, dtype=element.newbyteorder('='))
    message = conversions.numpy_to_image(pixels, encoding)
    message.header.frame_id = 'camera_optical_frame'
    _stamp(message, stamp_ns)
    return message


def valid_compressed(rng: np.random.Generator, stamp_ns: int) -> CompressedImage:
    """Return a random small JPEG or PNG (colour, mono or 16-bit) as image_transport sends."""
    width, height = int(rng.integers(8, 97)), int(rng.integers(8, 73))
    kind = int(rng.integers(0, 4))
    if kind == 0:
        pixels, extension, image_format = (
            rng.integers(0, 255, (height, width, 3), dtype=np.uint8), '.jpg',
            'bgr8; jpeg compressed bgr8')
    elif kind == 1:
        pixels, extension, image_format = (
            rng.integers(0, 255, (height, width), dtype=np.uint8), '.jpg',
            'mono8; jpeg compressed mono8')
    elif kind == 2:
        pixels, extension, image_format = (
            rng.integers(0, 255, (height, width, 3), dtype=np.uint8), '.png',
            'bgr8; png compressed bgr8')
    else:
        pixels, extension, image_format = (
            rng.integers(0, 65535, (height, width), dtype=np.uint16), '.png',
            'mono16; png compressed mono16')
    ok, encoded = cv2.imencode(extension, pixels)
    if not ok:
        raise RuntimeError(f'OpenCV could not encode a {extension} test image')
    message = CompressedImage(format=image_format)
    message.data = encoded.tobytes()
    message.header.frame_id = 'camera_optical_frame'
    _stamp(message, stamp_ns)
    return message


def valid_camera_info(rng: np.random.Generator, stamp_ns: int) -> CameraInfo:
    width, height = int(rng.integers(16, 1921)), int(rng.integers(16, 1081))
    fx = float(width) * float(rng.uniform(0.4, 2.0))
    fy = fx * float(rng.uniform(0.95, 1.05))
    message = CameraInfo(width=width, height=height, distortion_model='plumb_bob')
    message.k = [fx, 0.0, width / 2 - 0.5, 0.0, fy, height / 2 - 0.5, 0.0, 0.0, 1.0]
    message.p = [fx, 0.0, width / 2 - 0.5, 0.0, 0.0, fy, height / 2 - 0.5, 0.0,
                 0.0, 0.0, 1.0, 0.0]
    message.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    message.d = [float(v) for v in rng.normal(0.0, 0.05, 5)]
    message.header.frame_id = 'camera_optical_frame'
    _stamp(message, stamp_ns)
    return message


# ------------------------------------------------------------------------------------------
# Mutations: (message, rng) -> None, in place; named for the report
# ------------------------------------------------------------------------------------------

_UINT32_MAX = 2**32 - 1
_HOSTILE_TEXT = ('A' * 72_537, 'rgb8\n[FATAL] [0.0] [forged]: line', '\x1b[31mred\x1b[0m',
                 '', '\u202ergb8', 'rgb8\x00\x00', 'é' * 300, '%s%n%x' * 20)


def _text(rng: np.random.Generator) -> str:
    return _HOSTILE_TEXT[int(rng.integers(0, len(_HOSTILE_TEXT)))]


def _raw_data(message: Any) -> bytes:
    return bytes(message.data)


def _set_data(message: Any, data: bytes) -> None:
    message.data = data


IMAGE_MUTATIONS: dict[str, Callable[[Image, np.random.Generator], None]] = {
    'valid': lambda m, r: None,
    'zero_width': lambda m, r: setattr(m, 'width', 0),
    'zero_height': lambda m, r: setattr(m, 'height', 0),
    'huge_width': lambda m, r: setattr(m, 'width', _UINT32_MAX),
    'huge_both': lambda m, r: (setattr(m, 'width', 100_000), setattr(m, 'height', 100_000),
                               setattr(m, 'step', 300_000)),
    'claims_8000x8000': lambda m, r: (setattr(m, 'width', 8000), setattr(m, 'height', 8000),
                                      setattr(m, 'step', 24_000)),
    'random_size': lambda m, r: (setattr(m, 'width', int(r.integers(0, 5000))),
                                 setattr(m, 'height', int(r.integers(0, 5000)))),
    'short_data': lambda m, r: _set_data(m, _raw_data(m)[:int(r.integers(0, len(m.data)))]),
    'extra_data': lambda m, r: _set_data(m, _raw_data(m) + bytes(int(r.integers(1, 500)))),
    'step_too_small': lambda m, r: setattr(m, 'step', max(0, m.step - 1)),
    'step_zero': lambda m, r: setattr(m, 'step', 0),
    'step_huge': lambda m, r: setattr(m, 'step', _UINT32_MAX),
    'step_padded': lambda m, r: (_set_data(m, _raw_data(m) + bytes(m.height * 16)),
                                 setattr(m, 'step', m.step + 16)),
    'encoding_hostile': lambda m, r: setattr(m, 'encoding', _text(r)),
    'encoding_depth': lambda m, r: setattr(
        m, 'encoding', {1: '8SC1', 2: '16SC1', 3: '8SC3', 4: '8SC4'}.get(m.step // m.width,
                                                                         '8SC1')),
    'encoding_many_channels': lambda m, r: setattr(m, 'encoding', '8UC512'),
    'bigendian_flip': lambda m, r: setattr(m, 'is_bigendian', 1 - int(m.is_bigendian)),
    'odd_width_yuv': lambda m, r: (setattr(m, 'encoding', 'yuv422'),
                                   setattr(m, 'width', m.width - 1 if m.width > 2 else 3),
                                   setattr(m, 'step', 2 * m.width)),
    'frame_id_hostile': lambda m, r: setattr(m.header, 'frame_id', _text(r)),
    'tiny': lambda m, r: (setattr(m, 'height', 4), _set_data(m, _raw_data(m)[:4 * m.step])),
    'stamp_back_1h': lambda m, r: _stamp(m, stamp_ns_of(m) - 3600 * NS_PER_S),
    'stamp_ahead_1d': lambda m, r: _stamp(m, stamp_ns_of(m) + 86_400 * NS_PER_S),
    'stamp_slightly_back': lambda m, r: _stamp(m, stamp_ns_of(m) - NS_PER_S // 2),
    'stamp_zero': lambda m, r: _stamp(m, 0),
}


def _patch(data: bytes, offset: int, value: bytes) -> bytes:
    if offset < 0 or offset + len(value) > len(data):
        return data
    return data[:offset] + value + data[offset + len(value):]


def _jpeg_sof(data: bytes) -> int:
    for marker in (b'\xff\xc0', b'\xff\xc2', b'\xff\xc1'):
        index = data.find(marker)
        if index >= 0:
            return index
    return -1


def _claim(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the size in a JPEG frame header or PNG IHDR without touching the rest."""
    if data[:3] == b'\xff\xd8\xff':
        sof = _jpeg_sof(data)
        if sof < 0:
            return data
        return _patch(_patch(data, sof + 5, height.to_bytes(2, 'big')), sof + 7,
                      width.to_bytes(2, 'big'))
    return _patch(_patch(data, 16, width.to_bytes(4, 'big')), 20, height.to_bytes(4, 'big'))


def _flip(data: bytes, rng: np.random.Generator, low: int, high: int, count: int = 4) -> bytes:
    mutable = bytearray(data)
    high = min(high, len(mutable))
    if high <= low:
        return data
    for position in rng.integers(low, high, count):
        mutable[int(position)] = int(rng.integers(0, 256))
    return bytes(mutable)


COMPRESSED_MUTATIONS: dict[str, Callable[[CompressedImage, np.random.Generator], None]] = {
    'valid': lambda m, r: None,
    'claims_8000x8000': lambda m, r: _set_data(m, _claim(_raw_data(m), 8000, 8000)),
    'claims_16x60000': lambda m, r: _set_data(m, _claim(_raw_data(m), 16, 60000)),
    'claims_zero': lambda m, r: _set_data(m, _claim(_raw_data(m), 0, 16)),
    'claims_random': lambda m, r: _set_data(m, _claim(_raw_data(m), int(r.integers(1, 65536)),
                                                      int(r.integers(1, 65536)))),
    'cut_in_header': lambda m, r: _set_data(m, _raw_data(m)[:int(r.integers(0, 40))]),
    'cut_in_body': lambda m, r: _set_data(
        m, _raw_data(m)[:int(r.integers(len(m.data) // 2, len(m.data)))]),
    'flip_header': lambda m, r: _set_data(m, _flip(_raw_data(m), r, 2, 200)),
    'flip_body': lambda m, r: _set_data(m, _flip(_raw_data(m), r, len(m.data) // 2,
                                                 len(m.data), 8)),
    'garbage': lambda m, r: _set_data(m, r.integers(0, 256, int(r.integers(1, 4000)),
                                                    dtype=np.uint8).tobytes()),
    'empty': lambda m, r: _set_data(m, b''),
    'prefix_garbage': lambda m, r: _set_data(m, b'\x00' * 16 + _raw_data(m)),
    'format_compressed_depth': lambda m, r: setattr(m, 'format', '16UC1; compressedDepth png'),
    'format_hostile': lambda m, r: setattr(m, 'format', _text(r)),
    'frame_id_hostile': lambda m, r: setattr(m.header, 'frame_id', _text(r)),
    'stamp_back_1h': lambda m, r: _stamp(m, stamp_ns_of(m) - 3600 * NS_PER_S),
    'stamp_ahead_1d': lambda m, r: _stamp(m, stamp_ns_of(m) + 86_400 * NS_PER_S),
    'stamp_slightly_back': lambda m, r: _stamp(m, stamp_ns_of(m) - NS_PER_S // 2),
}


def _set_k(message: CameraInfo, index: int, value: float) -> None:
    k = list(message.k)
    k[index] = value
    message.k = k


CAMERA_INFO_MUTATIONS: dict[str, Callable[[CameraInfo, np.random.Generator], None]] = {
    'valid': lambda m, r: None,
    'fx_zero': lambda m, r: _set_k(m, 0, 0.0),
    'fx_negative': lambda m, r: _set_k(m, 0, -500.0),
    'fx_denormal': lambda m, r: _set_k(m, 0, 5e-324),
    'fx_huge': lambda m, r: (_set_k(m, 0, 1e300), _set_k(m, 4, 1e300)),
    'fx_nan': lambda m, r: _set_k(m, 0, float('nan')),
    'fy_inf': lambda m, r: _set_k(m, 4, float('inf')),
    'cx_far': lambda m, r: _set_k(m, 2, 1e9),
    'cy_far_negative': lambda m, r: _set_k(m, 5, -1e7),
    'k_all_zero': lambda m, r: setattr(m, 'k', [0.0] * 9),
    'k_bad_last_row': lambda m, r: _set_k(m, 8, 0.0),
    'k_random': lambda m, r: setattr(m, 'k', [float(v) for v in r.normal(0, 1e3, 9)]),
    'zero_size': lambda m, r: setattr(m, 'width', 0),
    'huge_size': lambda m, r: setattr(m, 'height', 100_000),
    'roi_outside': lambda m, r: (setattr(m.roi, 'x_offset', m.width), setattr(m.roi, 'width',
                                                                              m.width)),
    'binning_huge': lambda m, r: setattr(m, 'binning_x', 1_000_000),
    'distortion_hostile': lambda m, r: setattr(m, 'distortion_model', _text(r)),
    'd_many': lambda m, r: setattr(m, 'd', [0.0] * 10_000),
    'frame_id_hostile': lambda m, r: setattr(m.header, 'frame_id', _text(r)),
}


# ------------------------------------------------------------------------------------------
# The oracle: the node's rules, applied in the node's order
# ------------------------------------------------------------------------------------------


@dataclass
class Oracle:
    """What the node must report for each case, given everything sent before it."""

    clock: StampClock = field(default_factory=StampClock)

    def judge(self, case: Case) -> Case:
        message = case.message
        if case.topic == 'camera_info':
            case.stage = INFO
            try:
                conversions.camera_info_to_intrinsics(message)
                case.expected = 'accepted'
            except conversions.ImplausibleCameraInfo:
                case.expected = 'camera_info_implausible'
            except (ValueError, TypeError):
                case.expected = 'camera_info_invalid'
            return case
        compressed = case.topic == 'compressed'
        try:  # the callback's header checks
            if compressed:
                width, height = conversions.compressed_image_size(message)
            else:
                height, width = conversions.image_to_numpy(message).shape[:2]
            if min(width, height) < MIN_IMAGE_SIDE_PX:
                raise ValueError('smaller than the network takes')
        except (ValueError, TypeError):
            case.stage, case.expected = CALLBACK, 'bad_image'
            return case
        case.stage = WORKER
        stamp_ns = stamp_ns_of(message)
        verdict = self.clock.check(stamp_ns)
        if not verdict.accepted:
            case.expected = 'out_of_order'
            return case
        case.clock_jump = verdict in (StampVerdict.JUMP_BACK, StampVerdict.JUMP_FORWARD)
        try:
            if compressed:
                conversions.compressed_image_to_numpy(message)
            else:
                conversions.image_to_rgb(message)
        except (ValueError, TypeError):
            case.expected = 'bad_image'
            return case
        self.clock.accept(stamp_ns)
        case.expected = ANSWERED
        return case


MUTATIONS = {'image': IMAGE_MUTATIONS, 'compressed': COMPRESSED_MUTATIONS,
             'camera_info': CAMERA_INFO_MUTATIONS}


def generate(topic: str, count: int, seed: int, start_stamp_s: float = 1000.0,
             oracle: Oracle | None = None) -> Iterator[Case]:
    """Yield ``count`` judged cases for ``topic``, cycling through every mutation."""
    rng = np.random.default_rng(seed)
    oracle = oracle or Oracle()
    make, mutations = {
        'image': (valid_image, IMAGE_MUTATIONS),
        'compressed': (valid_compressed, COMPRESSED_MUTATIONS),
        'camera_info': (valid_camera_info, CAMERA_INFO_MUTATIONS),
    }[topic]
    names = list(mutations)
    stamp_ns = int(start_stamp_s * NS_PER_S)
    for index in range(count):
        stamp_ns += 10_000_000  # 10 ms apart
        name = names[index % len(names)] if index < len(names) else str(rng.choice(names))
        message = make(rng, stamp_ns)
        mutations[name](message, rng)
        yield oracle.judge(Case(topic, name, as_received(message)))


# ------------------------------------------------------------------------------------------
# Running cases against a node over DDS
# ------------------------------------------------------------------------------------------


def node_status(diagnostics: list, namespace: str) -> Any:
    """Return the newest DiagnosticStatus of the node in ``namespace`` (or None)."""
    for array in reversed(diagnostics):
        for status in array.status:
            if status.name.startswith(f'{namespace}/'):
                return status
    return None


def status_values(status: Any) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values} if status is not None else {}


@dataclass
class FuzzReport:
    """What was sent and what the node said about it."""

    sent: Counter = field(default_factory=Counter)  # (topic, category) -> messages
    expected: Counter = field(default_factory=Counter)  # outcome -> messages
    valid_sent: int = 0
    valid_answered: int = 0
    unanswered: list = field(default_factory=list)  # (topic, category) of missing answers
    latency_ms: list = field(default_factory=list)
    counters_before: dict = field(default_factory=dict)
    counters_after: dict = field(default_factory=dict)
    duration_s: float = 0.0

    def counter(self, key: str) -> int:
        return int(float(self.counters_after.get(key, 0))) - int(float(
            self.counters_before.get(key, 0)))

    def mismatches(self) -> dict[str, tuple[int, int]]:
        """Return {diagnostics key: (expected, reported)} for every counter that differs."""
        wanted = {
            'frames_processed': self.expected[ANSWERED],
            'frames_dropped': 0,
            'rejected_bad_image': self.expected['bad_image'],
            'rejected_out_of_order': self.expected['out_of_order'],
            'rejected_camera_info_invalid': self.expected['camera_info_invalid'],
            'rejected_camera_info_implausible': self.expected['camera_info_implausible'],
            'rejected_processing_error': 0,
            'clock_jump': self.expected['clock_jump'],
            'camera_info_received': sum(n for (topic, _), n in self.sent.items()
                                        if topic == 'camera_info'),
            'frames_received': sum(n for (topic, _), n in self.sent.items()
                                   if topic != 'camera_info'),
        }
        return {key: (value, self.counter(key)) for key, value in wanted.items()
                if self.counter(key) != value}


class FuzzRunner:
    """
    Sends cases to a running node and waits, per case, for the node's answer or its count.

    A frame the node answers is awaited on ``semantic/labels`` by its stamp; a frame the
    worker rejects is awaited in /diagnostics, so the next frame cannot replace it in the
    node's one-slot mailbox (that would be a drop, and the counts would not be exact).
    Callback-stage rejections need no wait; the subscription queue is deep enough for them.
    """

    def __init__(self, node: Any, namespace: str, spin: Callable[[float], None],
                 image_pub: Any, compressed_pub: Any, info_pub: Any,
                 answers: list, diagnostics: list) -> None:
        self.node, self.namespace, self.spin = node, namespace, spin
        self.publishers = {'image': image_pub, 'compressed': compressed_pub,
                           'camera_info': info_pub}
        self.answers, self.diagnostics = answers, diagnostics

    def spin_until(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            self.spin(0.01)
            if condition():
                return True
        return condition()

    def values(self) -> dict[str, str]:
        return status_values(node_status(self.diagnostics, self.namespace))

    def fresh_values(self, timeout_s: float = 10.0) -> dict[str, str]:
        """Counters from a diagnostics message published after this call."""
        for _ in range(2):
            self.diagnostics.clear()
            self.spin_until(lambda: node_status(self.diagnostics, self.namespace) is not None,
                            timeout_s)
        return self.values()

    def _counted(self, key: str, target: int, timeout_s: float) -> bool:
        return self.spin_until(lambda: int(float(self.values().get(key, 0))) >= target,
                               timeout_s)

    def run(self, cases: list[Case], answer_timeout_s: float = 15.0,
            progress: Callable[[int], None] | None = None) -> FuzzReport:
        report = FuzzReport()
        start = time.monotonic()
        report.counters_before = self.fresh_values()
        base = {key: int(float(value)) for key, value in report.counters_before.items()
                if key.startswith(('rejected_', 'camera_info_received'))}
        outcome_counts: Counter = Counter()
        info_sent = 0
        for index, case in enumerate(cases):
            report.sent[(case.topic, case.category)] += 1
            report.expected[case.expected] += 1
            if case.clock_jump:
                report.expected['clock_jump'] += 1
            message = case.message
            sent_at = time.monotonic()
            self.publishers[case.topic].publish(message)
            if case.stage == INFO:
                info_sent += 1
                if info_sent % 4 == 0:  # the CameraInfo queue is 5 deep and best effort
                    self._counted('camera_info_received',
                                  base.get('camera_info_received', 0) + info_sent, 10.0)
            elif case.expected == ANSWERED:
                report.valid_sent += 1
                stamp = message.header.stamp
                if self.spin_until(lambda s=stamp: any(a.header.stamp == s
                                                       for a in self.answers),
                                   answer_timeout_s):
                    report.valid_answered += 1
                    report.latency_ms.append((time.monotonic() - sent_at) * 1e3)
                else:
                    report.unanswered.append((case.topic, case.category))
                self.answers.clear()
            elif case.stage == WORKER:
                outcome_counts[case.expected] += 1
                key = f'rejected_{case.expected}'
                target = base.get(key, 0) + outcome_counts[case.expected]
                # Callback rejections of the same reason count too: wait for all of them.
                target += sum(1 for c in cases[:index] if c.stage == CALLBACK
                              and c.expected == case.expected)
                self._counted(key, target, answer_timeout_s)
            if progress is not None:
                progress(index + 1)
        self.spin_until(lambda: int(float(self.values().get('camera_info_received', 0)))
                        >= base.get('camera_info_received', 0) + info_sent, 10.0)
        time.sleep(0.5)
        report.counters_after = self.fresh_values()
        report.duration_s = time.monotonic() - start
        return report


def as_received(message: Any) -> Any:
    """
    Return ``message`` as a subscriber gets it: serialized to CDR and back.

    The wire changes what an attacker sent: CDR strings end at the first NUL, so an encoding
    ``'rgb8'`` followed by NUL bytes arrives as ``'rgb8'``. The oracle must judge what the
    node receives.
    """
    from rclpy.serialization import deserialize_message, serialize_message

    return deserialize_message(serialize_message(message), type(message))


def clone(message: Any) -> Any:
    """Return an independent copy of a message (cases are reused by the long runs)."""
    return copy.deepcopy(message)
