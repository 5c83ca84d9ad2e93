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
Generated scenes with exact ground truth: PyBullet rendering and the Cityscapes-layout writer.

Outside ``core`` because it needs PyBullet (core is NumPy + PyTorch only). One job per module:
``scene_types`` (the records), ``catalog`` (the bodies), ``sampler`` (seed -> scene),
``textures``, ``rotations``, ``camera`` (pinhole and OpenGL matrices), ``renderer`` (the
PyBullet client), ``sequence`` (a moving camera over one scene), ``writer`` (the Cityscapes
layout). PyBullet is imported only when a :class:`SceneRenderer` starts, so this package
imports (and its pure parts run) without it.
"""

from mtl_perception.synth.camera import PinholeCamera
from mtl_perception.synth.renderer import GENERATOR_VERSION, render_frame, SceneRenderer
from mtl_perception.synth.scene_types import Frame, InstanceInfo, Scene
from mtl_perception.synth.sequence import SceneSequence

__all__ = ['Frame', 'GENERATOR_VERSION', 'InstanceInfo', 'PinholeCamera', 'Scene',
           'SceneRenderer', 'SceneSequence', 'render_frame']
