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
Launch mtl_perception_node on a camera stream, optionally with RViz.

    ros2 launch mtl_perception camera.launch.py image:=/camera/image_raw \
        camera_info:=/camera/camera_info use_rviz:=true

The node subscribes to the relative topics ``image`` and ``camera_info``; this file remaps them
to the camera driver's topics. Its image QoS defaults to ``auto`` (match the driver), which
delivers full-size frames from a reliable driver over Fast DDS's default transports. For a
best-effort driver with large frames, start BOTH the driver and this launch with
``FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA`` (``large_data:=true`` sets it for the node and RViz);
setting it on one side only breaks delivery (see docs/ros.md).

``use_rviz:=true`` on a machine without rviz2 logs a warning and runs the node alone: a
missing package must not end the launch with an error and leave the node behind.
"""

from ament_index_python.packages import get_package_prefix, PackageNotFoundError
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

EXECUTABLE = 'mtl_perception_node'
PACKAGE = 'mtl_perception'
RVIZ_PACKAGE = 'rviz2'


def _rviz_if_installed(context: LaunchContext, share: FindPackageShare) -> list:
    """Return the RViz node when rviz2 is installed, else a warning (never an error)."""
    try:
        get_package_prefix(RVIZ_PACKAGE)
    except PackageNotFoundError:
        return [LogInfo(msg='WARNING: use_rviz:=true but the rviz2 package is not installed '
                            '(not in the ament index); running without RViz.')]
    return [Node(
        package=RVIZ_PACKAGE,
        executable='rviz2',
        name='rviz2',
        arguments=['-d', PathJoinSubstitution([share, 'rviz', 'mtl_perception.rviz']),
                   '-f', LaunchConfiguration('camera_frame')],
        output='screen',
    )]


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare(PACKAGE)
    arguments = [
        DeclareLaunchArgument('image', default_value='/camera/image_raw',
                              description='Camera image topic (sensor_msgs/Image).'),
        DeclareLaunchArgument('camera_info', default_value='/camera/camera_info',
                              description='CameraInfo topic of that camera.'),
        DeclareLaunchArgument('namespace', default_value='mtl',
                              description='Namespace of the node and its outputs.'),
        DeclareLaunchArgument('model_path', default_value='',
                              description='Checkpoint to load; empty: the shipped model.'),
        DeclareLaunchArgument('device', default_value='auto',
                              description='auto | cuda | cpu'),
        DeclareLaunchArgument('precision', default_value='fp32', description='fp32 | fp16'),
        DeclareLaunchArgument('params_file',
                              default_value=PathJoinSubstitution([share, 'config',
                                                                  'camera.yaml']),
                              description='Parameter file (uses the /** wildcard).'),
        DeclareLaunchArgument('use_rviz', default_value='false',
                              description='Start RViz with rviz/mtl_perception.rviz.'),
        DeclareLaunchArgument('camera_frame', default_value='camera_optical_frame',
                              description='RViz fixed frame: the optical frame of the camera '
                                          '(the frame_id of its images).'),
        DeclareLaunchArgument('large_data', default_value='false',
                              description='Use Fast DDS LARGE_DATA transports (set it on the '
                                          'camera driver too).'),
    ]
    large_data = SetEnvironmentVariable('FASTDDS_BUILTIN_TRANSPORTS', 'LARGE_DATA',
                                        condition=IfCondition(LaunchConfiguration('large_data')))
    node = Node(
        package=PACKAGE,
        executable=EXECUTABLE,
        name='mtl_perception',
        namespace=LaunchConfiguration('namespace'),
        parameters=[LaunchConfiguration('params_file'), {
            'model_path': LaunchConfiguration('model_path'),
            'device': LaunchConfiguration('device'),
            'precision': LaunchConfiguration('precision'),
        }],
        remappings=[('image', LaunchConfiguration('image')),
                    ('image/compressed', [LaunchConfiguration('image'), '/compressed']),
                    ('camera_info', LaunchConfiguration('camera_info'))],
        output='screen',
        emulate_tty=True,
    )
    rviz = OpaqueFunction(function=_rviz_if_installed, args=[share],
                          condition=IfCondition(LaunchConfiguration('use_rviz')))
    return LaunchDescription(arguments + [large_data, node, rviz])
