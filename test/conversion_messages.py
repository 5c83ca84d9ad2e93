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

"""Messages the conversion tests build: headers, raw images and random pixel arrays."""

import array

from builtin_interfaces.msg import Time
import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header


def make_header(sec=12, nanosec=345, frame_id='camera_optical_frame'):
    return Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id=frame_id)


def raw_image(encoding, height, width, step, payload, is_bigendian=False):
    return Image(header=make_header(), height=height, width=width, encoding=encoding,
                 is_bigendian=int(is_bigendian), step=step, data=array.array('B', payload))


def random_pixels(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == 'f':
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
