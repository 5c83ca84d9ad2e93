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
The node's outputs: the topic table, which outputs subscribers need, SceneResult -> messages.

One home, so that the node (what RViz shows) and the bag evaluator (what ``mtl_eval_bag``
writes) publish the same topics with the same messages: both build them with
:func:`scene_messages` from the table :data:`FRAME_OUTPUTS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mtl_perception.core.classes import ClassSet
from mtl_perception.core.pipeline import SceneResult
from mtl_perception.core.visualize import colorize_semantic
from mtl_perception.ros import conversions
import numpy as np
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Float32MultiArray, MultiArrayDimension
from visualization_msgs.msg import MarkerArray


@dataclass(frozen=True)
class OutputTopic:
    """One published output: its key, message type, relative topic and switch parameter."""

    key: str
    msg_type: type
    topic: str  # relative: the node publishes it under its namespace
    enabled_by: str = ''  # the publish_* parameter that switches it off; '' none
    latched: bool = False  # transient-local, published once per activation

    @property
    def type_name(self) -> str:
        """Return the rosbag2 type name, e.g. ``sensor_msgs/msg/Image``."""
        module = self.msg_type.__module__.split('.')[0]
        return f'{module}/msg/{self.msg_type.__name__}'


FRAME_OUTPUTS: tuple[OutputTopic, ...] = (
    OutputTopic('labels', Image, 'semantic/labels', 'publish_labels'),
    OutputTopic('color', Image, 'semantic/color', 'publish_color'),
    OutputTopic('depth', Image, 'depth', 'publish_depth'),
    OutputTopic('points', PointCloud2, 'instances/points', 'publish_points'),
    OutputTopic('instance_ids', Image, 'instances/ids', 'publish_instance_ids'),
    OutputTopic('markers', MarkerArray, 'instances/markers', 'publish_markers'),
    OutputTopic('uncertainty', Image, 'uncertainty/semantic', 'publish_uncertainty'),
)
"""Outputs made from each frame's :class:`~mtl_perception.core.pipeline.SceneResult`."""

SIGMAS = OutputTopic('sigmas', Float32MultiArray, 'uncertainty/task_sigmas', latched=True)
"""The learned task uncertainties: one latched message per activation."""

NETWORK_INFO_OUTPUTS: tuple[OutputTopic, ...] = (
    OutputTopic('semantic_info', CameraInfo, 'semantic/camera_info'),
    OutputTopic('depth_info', CameraInfo, 'depth/camera_info'),
)
"""CameraInfo of the network resolution, published beside the images when
``output_resolution`` is ``network``."""


def output_topics(output_resolution: str = 'input') -> tuple[OutputTopic, ...]:
    """Return every topic the node publishes (besides /diagnostics) for this setting."""
    extra = NETWORK_INFO_OUTPUTS if output_resolution == 'network' else ()
    return (*FRAME_OUTPUTS, SIGMAS, *extra)


def wanted_outputs(settings: Mapping[str, Any],
                   listened: Callable[[str], bool] = lambda key: True) -> dict[str, bool]:
    """
    Return, per frame output key, whether to make it.

    An output is made when its ``publish_*`` parameter is on and ``listened(key)`` (the node
    asks whether its publisher has subscribers; a bag writer wants everything).
    """
    return {output.key: bool(settings.get(output.enabled_by, True) and listened(output.key))
            for output in FRAME_OUTPUTS}


def pipeline_outputs(wanted: Mapping[str, bool]) -> set[str]:
    """Return what :meth:`ScenePipeline.process` must compute for the wanted outputs."""
    outputs = set()
    if wanted.get('labels') or wanted.get('color'):
        outputs.add('semantic')
    if wanted.get('depth'):
        outputs.add('depth')
    if wanted.get('points') or wanted.get('markers'):
        outputs |= {'instances', 'cloud'}
    if wanted.get('instance_ids'):
        outputs.add('instances')
    if wanted.get('uncertainty'):
        outputs |= {'semantic', 'confidence'}
    return outputs


def scene_messages(result: SceneResult, header: Any, class_set: ClassSet, image: np.ndarray,
                   color_blend: float = 0.0, wanted: Mapping[str, bool] | None = None
                   ) -> dict[str, Any]:
    """
    Return the wanted frame outputs of ``result`` as messages keyed like :data:`FRAME_OUTPUTS`.

    Every message carries a copy of ``header`` (the input image's). ``image`` is the RGB frame
    at the output resolution (blended into ``semantic/color`` by ``color_blend``). Outputs the
    result does not hold (not computed) are left out.
    """
    wanted = wanted if wanted is not None else dict.fromkeys(
        (output.key for output in FRAME_OUTPUTS), True)
    prediction = result.prediction
    messages: dict[str, Any] = {}
    if wanted.get('labels') and prediction.semantic is not None:
        messages['labels'] = conversions.numpy_to_image(prediction.semantic, 'mono8', header)
    if wanted.get('color') and prediction.semantic is not None:
        colour = colorize_semantic(prediction.semantic, class_set, image, float(color_blend))
        messages['color'] = conversions.numpy_to_image(colour, 'rgb8', header)
    if wanted.get('depth') and result.depth_m is not None:
        messages['depth'] = conversions.numpy_to_image(
            result.depth_m.astype(np.float32), '32FC1', header)
    if wanted.get('uncertainty') and prediction.semantic_confidence is not None:
        uncertainty = (1.0 - prediction.semantic_confidence).astype(np.float32)
        messages['uncertainty'] = conversions.numpy_to_image(uncertainty, '32FC1', header)
    if wanted.get('instance_ids') and result.instances is not None:
        messages['instance_ids'] = conversions.numpy_to_image(
            result.instances.instance_ids.astype(np.uint16), '16UC1', header)
    if wanted.get('points') and result.cloud is not None:
        messages['points'] = conversions.structured_to_pointcloud2(result.cloud, header)
    if wanted.get('markers') and result.instances is not None and result.centroids_m is not None:
        classes = np.asarray(result.instances.class_ids, dtype=np.int64)
        labels = [f'{class_set.names[c]} {i + 1}' for i, c in enumerate(classes)]
        colours = class_set.palette_array()[classes] if len(classes) else np.zeros((0, 3))
        messages['markers'] = conversions.instance_markers(result.centroids_m, labels, colours,
                                                           header)
    return messages


class ScaledCameraInfo:
    """The camera's CameraInfo scaled to the output size, rescaled only when either changes."""

    def __init__(self) -> None:
        self._key: tuple[Any, int, int] | None = None
        self._scaled: CameraInfo | None = None

    def message(self, camera_info: CameraInfo, width: int, height: int,
                header: Any) -> CameraInfo:
        """Return ``camera_info`` scaled to ``width`` x ``height`` with a copy of ``header``."""
        if (self._key is None or self._key[0] is not camera_info
                or self._key[1:] != (width, height)):
            self._scaled = conversions.scaled_camera_info(camera_info, width, height)
            self._key = (camera_info, width, height)
        self._scaled.header = conversions.copy_header(header)
        return self._scaled


def sigmas_message(sigmas: Mapping[str, float]) -> Float32MultiArray:
    """Return the task uncertainties as a Float32MultiArray labelled with the task names."""
    message = Float32MultiArray()
    message.layout.dim = [MultiArrayDimension(label=','.join(sigmas), size=len(sigmas),
                                              stride=len(sigmas))]
    message.data = [float(v) for v in sigmas.values()]
    return message
