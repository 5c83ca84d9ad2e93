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
Data sets and joint transforms: Cityscapes-layout frames (real or generated) as samples.

``frames`` finds and reads a split's files, ``targets`` derives instance ids and offsets,
``transforms`` holds the joint image/target transforms and ``cityscapes`` the data set.
"""

from mtl_perception.core.data.cityscapes import (
    build_dataset,
    CityscapesDataset,
    IMAGENET_MEAN,
    IMAGENET_STD,
)
from mtl_perception.core.data.frames import DatasetError, find_frames, FrameFiles
from mtl_perception.core.data.targets import instance_offsets

__all__ = ['CityscapesDataset', 'DatasetError', 'FrameFiles', 'IMAGENET_MEAN', 'IMAGENET_STD',
           'build_dataset', 'find_frames', 'instance_offsets']
