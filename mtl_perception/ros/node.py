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
``mtl_perception_node``: camera in; semantics, depth and instance point clouds out.

A lifecycle node (configure loads the model, deactivate frees it and the CUDA cache) that by
default configures and activates itself (``autostart``), so ``ros2 run`` and a plain launch
file just work, while a lifecycle manager can drive it with ``autostart:=false``.

Threading: subscription callbacks only park the newest message in a one-slot mailbox; a worker
thread decodes, runs the :class:`~mtl_perception.core.pipeline.ScenePipeline` and publishes.
The executor is never blocked by inference, and a slow model drops old frames (counted in
diagnostics) instead of building a backlog. Outputs nobody subscribes to are not computed.

This module holds the lifecycle and the callbacks only: the mailbox and thread are
``ros/worker.py``, the topic table and SceneResult -> messages ``ros/outputs.py`` (shared with
the bag evaluator), /diagnostics ``ros/diagnostics.py``, the image subscription's QoS
decisions ``ros/qos_matching.py``, start-up checks ``ros/startup.py``.
Over 400 lines, it stays one module because its lifecycle transitions, the checks on every
input message and the frame callback all act on the node's own state (publishers,
subscriptions, counters) and read best together.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

import cv2
from diagnostic_msgs.msg import DiagnosticArray
from mtl_perception.core.camera import resize_intrinsics
from mtl_perception.core.checkpoint import CheckpointError
from mtl_perception.core.pipeline import PipelineConfig, ScenePipeline
from mtl_perception.core.predictor import default_model_path, Predictor
from mtl_perception.ros import conversions, diagnostics, outputs, qos, qos_matching
from mtl_perception.ros.parameters import allowed_values, PARAMETERS
from mtl_perception.ros.startup import check_params_files, init_quietly, parameter_problem
from mtl_perception.ros.stream import DeliveryGaps, StampClock, StampVerdict
from mtl_perception.ros.worker import FrameWorker
import numpy as np
from rcl_interfaces.msg import SetParametersResult
import rclpy
from rclpy.event_handler import (
    QoSMessageLostInfo,
    QoSRequestedIncompatibleQoSInfo,
    SubscriptionEventCallbacks,
)
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    qos_profile_sensor_data,
    QoSProfile,
    ReliabilityPolicy,
)
from rclpy.subscription import Subscription
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

NODE_NAME = 'mtl_perception'
MIN_IMAGE_SIDE_PX = 8
"""Smallest width and height the Predictor takes (tested equal); smaller frames are rejected
in the callback, where they are counted, not deep in the worker."""
_LOG_LINE_CHARS = 600  # longest warning about one message; the rest is attacker-sized


class ParameterError(ValueError):
    """A parameter with a wrong type or value; main() prints it as one line and exits 2."""


class MtlPerceptionNode(LifecycleNode):
    """Runs the multi-task network on a camera stream and publishes what it sees."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        for spec in PARAMETERS:
            try:
                self.declare_parameter(spec.name, spec.default, spec.descriptor())
            except ParameterException as error:
                raise ParameterError(
                    f'bad parameter {parameter_problem(spec.name, error)}; '
                    f'{spec.name} takes {allowed_values(spec.name)}') from None
        self._settings = {spec.name: self.get_parameter(spec.name).value for spec in PARAMETERS}
        self._choices = {spec.name: spec.choices for spec in PARAMETERS if spec.choices}
        for name, choices in self._choices.items():
            if self._settings[name] not in choices:
                raise ParameterError(
                    f'bad parameter {name} = '
                    f'{conversions.printable(repr(self._settings[name]))}; '
                    f'{name} takes {allowed_values(name)}')
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)
        self._stats = diagnostics.FrameStats()
        self._stats_lock = threading.Lock()
        self._worker = FrameWorker(self._process, self._reject)
        self._pipeline = None
        self._intrinsics: conversions.Intrinsics | None = None
        self._camera_info_msg: CameraInfo | None = None
        self._network_info = outputs.ScaledCameraInfo()
        self._stamp_clock = StampClock()
        self._delivery_gaps = DeliveryGaps()
        self._image_policy: ReliabilityPolicy | None = None
        self._qos_problem = ''  # set while no publisher on the image topic is compatible
        self._image_sub = None
        self._info_sub = None
        self._qos_timer = None
        self._outputs: dict[str, Any] = {}
        self._diagnostics_pub = None
        self._diagnostics_timer = None
        self._load_error = ''

    # --- parameters ---------------------------------------------------------------------

    def _validate_parameters(self, parameters: list) -> SetParametersResult:
        for parameter in parameters:
            choices = self._choices.get(parameter.name)
            if choices and parameter.value not in choices:
                return SetParametersResult(
                    successful=False,
                    reason=f'{parameter.name} must be one of {list(choices)}, '
                           f'got {parameter.value!r}')
        return SetParametersResult(successful=True)

    def _apply_parameters(self, parameters: list) -> None:
        for parameter in parameters:
            self._settings[parameter.name] = parameter.value
        if self._pipeline is not None:
            self._pipeline.config = self._pipeline_config()

    def _pipeline_config(self) -> PipelineConfig:
        # The same builder as the tools' (--params FILE): one mapping of parameter names.
        return PipelineConfig.from_mapping(self._settings, 'node parameters')

    # --- lifecycle ----------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        if not self._load_model():
            return TransitionCallbackReturn.FAILURE
        out_qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE,
                             history=HistoryPolicy.KEEP_LAST)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._outputs = {
            output.key: self.create_lifecycle_publisher(
                output.msg_type, output.topic, latched if output.latched else out_qos)
            for output in outputs.output_topics(self._settings['output_resolution'])}
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._diagnostics_timer = self.create_timer(
            float(self._settings['diagnostics_period_s']), self._publish_diagnostics)
        self._info_sub = self.create_subscription(
            CameraInfo, 'camera_info', self._on_camera_info, qos_profile_sensor_data)
        self.get_logger().info(
            f'configured: model {self._model_path} on '
            f'{self._pipeline.predictor.device} ({self._pipeline.predictor.precision}), '
            f'network input {self._pipeline.predictor.input_size[0]}x'
            f'{self._pipeline.predictor.input_size[1]}')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._pipeline is None and not self._load_model():
            return TransitionCallbackReturn.FAILURE
        result = super().on_activate(state)
        self._reset_stream()
        self._worker.start()
        self._subscribe_images()
        self._publish_sigmas()
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_worker()
        self._unsubscribe_images()
        self._release_model()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        self._reset_stream()
        return TransitionCallbackReturn.SUCCESS

    def _reset_stream(self) -> None:
        """Forget the input stream: a new activation may see another camera or clock."""
        self._stamp_clock.reset()
        self._delivery_gaps.reset()

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def _teardown(self) -> None:
        self._stop_worker()
        self._unsubscribe_images()
        for publisher in self._outputs.values():
            self.destroy_lifecycle_publisher(publisher)
        self._outputs = {}
        if self._info_sub is not None:
            self.destroy_subscription(self._info_sub)
            self._info_sub = None
        if self._diagnostics_timer is not None:
            self.destroy_timer(self._diagnostics_timer)
            self._diagnostics_timer = None
        if self._diagnostics_pub is not None:
            self.destroy_publisher(self._diagnostics_pub)
            self._diagnostics_pub = None
        self._release_model()

    def _load_model(self) -> bool:
        # Absolute, so the 'configured' line and errors say which file was used even when the
        # path came relative (a relative model_path, or an ament prefix given relatively).
        path = os.path.abspath(os.path.expanduser(
            self._settings['model_path'] or str(default_model_path())))
        size = (int(self._settings['input_width']), int(self._settings['input_height']))
        try:
            predictor = Predictor(path, device=self._settings['device'],
                                  precision=self._settings['precision'],
                                  input_size=size if all(size) else None,
                                  num_threads=int(self._settings['num_threads']) or None,
                                  backend=self._settings['backend'])
        except (CheckpointError, ValueError, TypeError, RuntimeError, OSError) as error:
            self._load_error = str(error)
            self.get_logger().error(f'cannot load model {path}: {error}')
            return False
        if predictor.precision != self._settings['precision']:
            # The core says so through Python logging, which never reaches /rosout.
            self.get_logger().warning(
                f"precision {self._settings['precision']} needs CUDA; running in "
                f'{predictor.precision} on {predictor.device}')
        self._pipeline = ScenePipeline(predictor, self._pipeline_config())
        self._model_path = path  # the file read, not the 'path' stored at save time
        self._load_error = ''
        return True

    def _release_model(self) -> None:
        if self._pipeline is not None:
            self._pipeline.predictor.release()
            self._pipeline = None

    # --- subscriptions --------------------------------------------------------------------

    def _image_topic(self) -> tuple[type, str]:
        if self._settings['use_compressed']:
            return CompressedImage, 'image/compressed'
        return Image, 'image'

    def _subscribe_images(self) -> None:
        """
        Subscribe to the camera, and in ``auto`` mode keep matching its publishers' QoS.

        A timer re-checks the publishers every second: a driver restarted with other
        reliability gets a new subscription that matches it, and while no publisher is
        compatible /diagnostics says so (WARN) instead of "waiting for images".
        """
        kind, topic = self._image_topic()
        resolved = self.resolve_topic_name(topic)
        publishers = self.get_publishers_info_by_topic(resolved)
        policy = qos_matching.image_reliability(self._settings['qos_reliability'],
                                                publishers, self._image_policy)
        if self._qos_timer is None:
            if policy is None:
                self.get_logger().info(f'waiting for a publisher on {resolved} to match its QoS')
            self._qos_timer = self.create_timer(1.0, self._subscribe_images)
        if policy is not None and policy != self._image_policy:
            if self._image_sub is not None:
                self.get_logger().info(
                    f'the publishers of {resolved} changed: subscribing again as '
                    f'{policy.name.lower()}')
                self.destroy_subscription(self._image_sub)
                self._image_sub = None
            profile = QoSProfile(depth=int(self._settings['qos_depth']), reliability=policy,
                                 history=HistoryPolicy.KEEP_LAST,
                                 durability=DurabilityPolicy.VOLATILE)
            events = SubscriptionEventCallbacks(message_lost=self._on_message_lost,
                                                incompatible_qos=self._on_incompatible_qos)
            if hasattr(Subscription, 'CallbackType'):
                callback = self._on_image
            else:  # Humble: no MessageInfo argument
                def callback(msg: Any) -> None:
                    self._on_image(msg, None)
            self._image_sub = self.create_subscription(kind, topic, callback, profile,
                                                       event_callbacks=events)
            self._image_policy = policy
            self.get_logger().info(f'subscribed to {self._image_sub.topic_name} '
                                   f'({policy.name.lower()}, depth {profile.depth})')
        self._qos_problem = '' if self._image_sub is None else qos_matching.incompatibility(
            publishers, self._image_sub.qos_profile, self._image_sub.topic_name)

    def _on_incompatible_qos(self, info: QoSRequestedIncompatibleQoSInfo) -> None:
        self.get_logger().warning(
            f'a publisher on {self.resolve_topic_name(self._image_topic()[1])} has '
            f'incompatible QoS ({info.total_count} so far); '
            + ('re-matching within a second' if self._settings['qos_reliability'] == 'auto'
               else "set qos_reliability to auto or to the publisher's reliability"),
            throttle_duration_sec=5.0)

    def _on_message_lost(self, info: QoSMessageLostInfo) -> None:
        with self._stats_lock:
            self._stats.dds_messages_lost += int(info.total_count_change)

    def _unsubscribe_images(self) -> None:
        if self._qos_timer is not None:
            self.destroy_timer(self._qos_timer)
            self._qos_timer = None
        if self._image_sub is not None:
            self.destroy_subscription(self._image_sub)
            self._image_sub = None
        self._image_policy = None
        self._qos_problem = ''

    def _on_image(self, msg: Image | CompressedImage, message_info: Any) -> None:
        received_at = time.monotonic()
        skipped = self._delivery_gaps.observe(message_info)
        with self._stats_lock:
            self._stats.received += 1
            self._stats.window_received += 1
            self._stats.dropped += skipped
            self._stats.dropped_in_dds += skipped
        # Header checks only (a zero-copy view, or the compressed header without decoding):
        # malformed frames are rejected here, so they are counted even when a newer frame
        # would have replaced them in the mailbox.
        try:
            if isinstance(msg, CompressedImage):
                width, height = conversions.compressed_image_size(msg)
            else:
                height, width = conversions.image_to_numpy(msg).shape[:2]
            if min(width, height) < MIN_IMAGE_SIDE_PX:
                raise ValueError(f'the image is {width}x{height} px; the network needs at '
                                 f'least {MIN_IMAGE_SIDE_PX}x{MIN_IMAGE_SIDE_PX}')
        except (ValueError, TypeError) as error:
            self._reject('bad_image', f'image rejected: {error}')
            return
        if self._worker.put((msg, received_at)):
            with self._stats_lock:
                self._stats.dropped += 1

    def _on_camera_info(self, msg: CameraInfo) -> None:
        with self._stats_lock:
            self._stats.camera_info_received += 1
        try:
            intrinsics = conversions.camera_info_to_intrinsics(msg)
        except conversions.ImplausibleCameraInfo as error:
            self._reject('camera_info_implausible', f'CameraInfo rejected: {error}')
            return
        except (ValueError, TypeError) as error:
            self._reject('camera_info_invalid', f'CameraInfo rejected: {error}')
            return
        self._intrinsics = intrinsics
        self._camera_info_msg = msg

    def _reject(self, reason: str, message: str) -> None:
        with self._stats_lock:
            self._stats.reject(reason)
        self.get_logger().warning(conversions.printable(message, _LOG_LINE_CHARS),
                                  throttle_duration_sec=5.0)

    def _degrade(self, reason: str, message: str) -> None:
        """Count and report (throttled) a frame processed with a fallback, not dropped."""
        with self._stats_lock:
            self._stats.degraded[reason] += 1
        self.get_logger().warning(conversions.printable(message, _LOG_LINE_CHARS),
                                  throttle_duration_sec=5.0)

    # --- the worker -----------------------------------------------------------------------

    def _stop_worker(self) -> None:
        self._worker.stop()

    def _wanted(self) -> dict[str, bool]:
        def listened(key: str) -> bool:
            publisher = self._outputs.get(key)
            return publisher is not None and publisher.get_subscription_count() > 0

        return outputs.wanted_outputs(self._settings, listened)

    def _process(self, msg: Image | CompressedImage, received_at: float) -> None:
        pipeline = self._pipeline
        if pipeline is None:
            return
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        verdict = self._stamp_clock.check(stamp_ns)
        if not verdict.accepted:
            self._reject('out_of_order', 'image rejected: its stamp is older than the last '
                         'processed frame (messages out of order)')
            return
        if verdict.is_jump:
            self._count_clock_jump(verdict, stamp_ns)
        wanted = self._wanted()
        if not any(wanted.values()):
            self._stamp_clock.accept(stamp_ns)
            return
        if isinstance(msg, CompressedImage):
            image = conversions.compressed_image_to_numpy(msg)
        else:
            image = conversions.image_to_rgb(msg)
        height, width = image.shape[:2]
        K = self._camera_matrix(width, height)
        camera_info = self._camera_info_msg
        if self._settings['output_resolution'] == 'network':
            out_w, out_h = pipeline.predictor.input_size
            if (out_w, out_h) != (width, height):
                image = cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA)
                if K is not None:
                    K = resize_intrinsics(K, (width, height), (out_w, out_h))
                width, height = out_w, out_h
        result = pipeline.process(image, K, outputs.pipeline_outputs(wanted))
        header = msg.header
        messages = outputs.scene_messages(result, header, pipeline.predictor.class_set, image,
                                          float(self._settings['color_blend']), wanted)
        for key, message in messages.items():
            self._outputs[key].publish(message)
        if 'semantic_info' in self._outputs and camera_info is not None:
            # Sent only when listened to.
            listeners = [self._outputs[key] for key in ('semantic_info', 'depth_info')
                         if self._outputs[key].get_subscription_count() > 0]
            if listeners:
                scaled = self._network_info.message(camera_info, width, height, header)
                for publisher in listeners:
                    publisher.publish(scaled)
        self._stamp_clock.accept(stamp_ns)
        with self._stats_lock:
            self._stats.processed += 1
            self._stats.window_processed += 1
            self._stats.latency_ms.append((time.monotonic() - received_at) * 1e3)
            self._stats.forward_ms.append(
                result.prediction.timings_ms.get('forward', float('nan')))

    def _count_clock_jump(self, verdict: StampVerdict, stamp_ns: int) -> None:
        """Count a stamp that jumped; the stream goes on from it (see ``StampClock``)."""
        last_ns = self._stamp_clock.last_ns or 0
        with self._stats_lock:
            self._stats.clock_jumps += 1
            self._stats.window_clock_jumps += 1
        self.get_logger().warning(
            f'the image stamps jumped {"back" if verdict is StampVerdict.JUMP_BACK else "ahead"}'
            f' by {abs(stamp_ns - last_ns) / 1e9:.3f} s (sim time restarted, a bag looped or '
            'the camera clock was set); processing goes on from the new stamp',
            throttle_duration_sec=5.0)

    def _camera_matrix(self, width: int, height: int) -> np.ndarray | None:
        """K of the latest valid CameraInfo if it describes this image size, else None."""
        intrinsics = self._intrinsics
        if intrinsics is None:
            self._degrade('no_camera_info', 'no valid CameraInfo received yet on '
                          f'{self.resolve_topic_name("camera_info")}; depth assumes the '
                          'canonical camera until one arrives')
            return None
        if (intrinsics.width, intrinsics.height) != (width, height):
            self._degrade('camera_info_size_mismatch', (
                f'CameraInfo describes {intrinsics.width}x{intrinsics.height} but the image is '
                f'{width}x{height}; depth assumes the canonical camera'))
            return None
        return intrinsics.K

    # --- outputs that are not per frame ---------------------------------------------------

    def _publish_sigmas(self) -> None:
        publisher = self._outputs.get('sigmas')
        if publisher is None or self._pipeline is None:
            return
        publisher.publish(outputs.sigmas_message(self._pipeline.predictor.sigmas))

    def diagnostics_values(self) -> dict[str, Any]:
        with self._stats_lock:
            values = self._stats.take_values(time.monotonic())
        values['qos'] = self._qos_problem or (
            self._image_policy.name.lower() if self._image_policy is not None else 'none')
        pipeline = self._pipeline
        values['device'] = str(pipeline.predictor.device) if pipeline else 'none'
        values['precision'] = pipeline.predictor.precision if pipeline else 'none'
        values['model'] = pipeline.predictor.path if pipeline else self._load_error
        for task, sigma in (pipeline.predictor.sigmas.items() if pipeline else ()):
            values[f'sigma_{task}'] = sigma
        return values

    def _publish_diagnostics(self) -> None:
        values = self.diagnostics_values()
        level, message = diagnostics.status(values, self._pipeline is not None,
                                            self._load_error, self._qos_problem)
        array = diagnostics.diagnostic_array(
            f'{self.get_fully_qualified_name()}: perception', values, level, message,
            self.get_clock().now().to_msg())
        if self._diagnostics_pub is not None:
            self._diagnostics_pub.publish(array)


def main(args: list[str] | None = None) -> int:
    problem = check_params_files(list(sys.argv if args is None else args))
    if problem:
        print(f'mtl_perception_node: {conversions.printable(problem, 400)}', file=sys.stderr)
        return 2
    # Before rclpy.init: Fast DDS reads its profile when the participant is created.
    dds_profile = qos.use_shipped_dds_profile(os.environ)
    try:
        init_quietly(args)
    except _rclpy.RCLError as error:  # a --params-file rcl cannot use, malformed --ros-args
        # rcl's text carries the C source locations (', at /project/src/...'): cut them.
        reason = str(error).split(', at /')[0].removeprefix('failed to initialize rcl: ')
        print(f'mtl_perception_node: {conversions.printable(reason, 400)}', file=sys.stderr)
        return 2
    node = None
    code = 0
    try:
        node = MtlPerceptionNode()
        node.get_logger().info(dds_profile)
        if node.get_parameter('autostart').value:
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                node.get_logger().fatal('start-up failed: the node could not be configured')
                return 1
            node.trigger_activate()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ParameterError, ValueError) as error:
        print(f'mtl_perception_node: {conversions.printable(error, 400)}', file=sys.stderr)
        code = 2
    finally:
        if node is not None:
            node._teardown()
            node.destroy_node()
        if rclpy.ok():
            rclpy.try_shutdown()
    return code


if __name__ == '__main__':
    sys.exit(main())
