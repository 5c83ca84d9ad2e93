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

"""The node's stream rules without ROS: stamp order under clock jumps, DDS sequence gaps."""

from mtl_perception.ros.stream import DeliveryGaps, NS_PER_S, StampClock, StampVerdict


def test_in_order_and_slightly_late_frames():
    clock = StampClock()
    assert clock.check(10 * NS_PER_S) is StampVerdict.FIRST
    clock.accept(10 * NS_PER_S)
    assert clock.check(10 * NS_PER_S + 1) is StampVerdict.IN_ORDER
    assert clock.check(10 * NS_PER_S) is StampVerdict.IN_ORDER  # same stamp twice: accepted
    assert clock.check(9 * NS_PER_S + NS_PER_S // 2) is StampVerdict.OUT_OF_ORDER
    assert not StampVerdict.OUT_OF_ORDER.accepted


def test_a_clock_that_steps_back_an_hour_starts_again():
    clock = StampClock()
    clock.accept(7200 * NS_PER_S)
    verdict = clock.check(3600 * NS_PER_S)
    assert verdict is StampVerdict.JUMP_BACK and verdict.accepted and verdict.is_jump
    clock.accept(3600 * NS_PER_S)
    assert clock.check(3601 * NS_PER_S) is StampVerdict.IN_ORDER


def test_a_far_future_stamp_does_not_lock_the_camera_out():
    clock = StampClock()
    clock.accept(100 * NS_PER_S)
    assert clock.check((100 + 86_400) * NS_PER_S) is StampVerdict.JUMP_FORWARD
    clock.accept((100 + 86_400) * NS_PER_S)
    assert clock.check(101 * NS_PER_S) is StampVerdict.JUMP_BACK  # the next normal frame


def test_reset_forgets_the_last_stamp():
    clock = StampClock()
    clock.accept(100 * NS_PER_S)
    clock.reset()
    assert clock.check(99 * NS_PER_S + NS_PER_S // 2) is StampVerdict.FIRST


def info(sequence, publisher=b'\x01' * 16):
    return {'publication_sequence_number': sequence,
            'publisher_gid': {'implementation_identifier': 'rmw_fastrtps_cpp',
                              'data': publisher}}


def test_sequence_gaps_count_what_never_arrived_per_publisher():
    gaps = DeliveryGaps()
    assert gaps.observe(info(5)) == 0  # the first sample seen: nothing known before it
    assert gaps.observe(info(6)) == 0
    assert gaps.observe(info(10)) == 3
    assert gaps.observe(info(1, b'\x02' * 16)) == 0  # another publisher counts on its own
    assert gaps.observe(info(4, b'\x02' * 16)) == 2
    assert gaps.observe(info(9)) == 0  # late or duplicate: not a gap
    assert gaps.observe(info(11)) == 0


def test_sequence_gaps_without_sequence_numbers_count_nothing():
    gaps = DeliveryGaps()
    assert gaps.observe(None) == 0
    assert gaps.observe({'publication_sequence_number': None}) == 0


def test_the_node_minimum_image_size_is_the_predictors():
    """The node refuses small frames in its callback; the Predictor must agree on the size."""
    import numpy as np
    import pytest

    pytest.importorskip('rclpy')
    from mtl_perception.core.predictor import Predictor
    from mtl_perception.ros.node import MIN_IMAGE_SIDE_PX
    from toy_models import tiny_checkpoint_object

    predictor = Predictor(tiny_checkpoint_object(), device='cpu')
    side = MIN_IMAGE_SIDE_PX
    with pytest.raises(ValueError):
        predictor._check_image(np.zeros((side - 1, side, 3), np.uint8))
    predictor._check_image(np.zeros((side, side, 3), np.uint8))
