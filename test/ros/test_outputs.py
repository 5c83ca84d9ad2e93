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


"""ros/outputs.py: the node's topic table and SceneResult -> messages, on a tiny model."""

import numpy as np
import pytest

pytest.importorskip('rclpy')

from mtl_perception.core.checkpoint import save_checkpoint  # noqa: E402, I100
from mtl_perception.core.pipeline import ScenePipeline  # noqa: E402
from mtl_perception.core.predictor import Predictor  # noqa: E402
from mtl_perception.ros import conversions, outputs  # noqa: E402
from std_msgs.msg import Header  # noqa: E402


@pytest.fixture(scope='module')
def pipeline(tmp_path_factory):
    from toy_models import tiny_checkpoint_object

    path = save_checkpoint(tiny_checkpoint_object(), tmp_path_factory.mktemp('m') / 'tiny.pt')
    return ScenePipeline(Predictor(path, device='cpu'))


@pytest.fixture(scope='module')
def image():
    return np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)


def _header() -> Header:
    header = Header(frame_id='camera_optical_frame')
    header.stamp.sec, header.stamp.nanosec = 12, 345
    return header


@pytest.mark.parametrize('key', [output.key for output in outputs.FRAME_OUTPUTS])
def test_each_output_alone_computes_what_its_message_needs(pipeline, image, key):
    wanted = {key: True}
    result = pipeline.process(image, None, outputs.pipeline_outputs(wanted))
    messages = outputs.scene_messages(result, _header(), pipeline.predictor.class_set, image,
                                      0.0, wanted)
    assert list(messages) == [key]
    message = messages[key]
    header = message.markers[0].header if key == 'markers' else message.header
    assert (header.stamp.sec, header.stamp.nanosec, header.frame_id) == (
        12, 345, 'camera_optical_frame')
    table = {output.key: output.msg_type for output in outputs.FRAME_OUTPUTS}
    assert isinstance(message, table[key])


def test_all_outputs_and_the_colour_blend(pipeline, image):
    result = pipeline.process(image, None)
    class_set = pipeline.predictor.class_set
    everything = outputs.scene_messages(result, _header(), class_set, image)
    assert set(everything) == {output.key for output in outputs.FRAME_OUTPUTS}
    blended = outputs.scene_messages(result, _header(), class_set, image, 1.0,
                                     {'color': True})['color']
    np.testing.assert_array_equal(conversions.image_to_numpy(blended), image)
    palette = conversions.image_to_numpy(everything['color'])
    np.testing.assert_array_equal(palette, class_set.palette_array()[result.prediction.semantic])


def test_wanted_outputs_follow_the_switches_and_the_listeners():
    settings = {'publish_labels': True, 'publish_depth': False}
    wanted = outputs.wanted_outputs(settings, lambda key: key != 'color')
    assert wanted['labels'] and not wanted['depth'] and not wanted['color']
    assert wanted['markers']  # a switch not in the settings counts as on
    assert outputs.pipeline_outputs({'depth': False}) == set()


def test_topic_table():
    names = {output.topic: output.type_name for output in outputs.output_topics()}
    assert names['semantic/labels'] == 'sensor_msgs/msg/Image'
    assert names['instances/markers'] == 'visualization_msgs/msg/MarkerArray'
    assert names['uncertainty/task_sigmas'] == 'std_msgs/msg/Float32MultiArray'
    network = {output.topic for output in outputs.output_topics('network')}
    assert network - set(names) == {'semantic/camera_info', 'depth/camera_info'}
    sigmas = outputs.sigmas_message({'semantic': 0.5, 'depth': 2.0})
    assert sigmas.layout.dim[0].label == 'semantic,depth' and list(sigmas.data) == [0.5, 2.0]


def test_scaled_camera_info_is_made_once_per_camera_info_and_size():
    from mtl_perception.ros.sim_camera import camera_info_message

    info = camera_info_message(np.array([[100.0, 0, 64], [0, 100.0, 48], [0, 0, 1]]), 128, 96,
                               'camera_optical_frame')
    cache = outputs.ScaledCameraInfo()
    first = cache.message(info, 64, 48, _header())
    assert (first.width, first.height) == (64, 48) and first.k[0] == pytest.approx(50.0)
    later = _header()
    later.stamp.sec = 13
    assert cache.message(info, 64, 48, later) is first and first.header.stamp.sec == 13
    assert cache.message(info, 32, 24, later).width == 32
