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
launch/camera.launch.py run as users run it, against mtl_sim_camera, over real Fast DDS.

Three ways in, each from a real install (never the source tree): a ``launch.LaunchService``
on the pip-world install of ``make ros-install``, ``ros2 launch`` in a colcon workspace with
the README's arguments, and ``ros2 launch`` with ``large_data:=true``. They check that every
documented output arrives, that each launch argument reaches the node (parameters, remappings,
environment) or RViz, that a missing rviz2 neither ends the launch nor orphans the node, and
that Ctrl-C (SIGINT) ends every process. Needs launch, launch_ros and ros2cli: from a ROS 2
installation or ../shared/ros-tools, else the tests skip.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402, I100
from rcl_interfaces.msg import Log  # noqa: E402
from rcl_interfaces.srv import GetParameters  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from ros_harness import joined_private_graph, Probe  # noqa: E402
from ros_tools import (  # noqa: E402
    colcon_workspace,
    executable,
    pip_world_install,
    REPO,
    require,
    ros_world_env,
    run,
)
from sensor_msgs.msg import Image, PointCloud2  # noqa: E402
from std_msgs.msg import Float32MultiArray  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402
import yaml  # noqa: E402

# The README's topic table, relative to the node's namespace (default /mtl).
OUTPUTS = {
    'semantic/labels': Image, 'semantic/color': Image, 'depth': Image,
    'instances/ids': Image, 'instances/points': PointCloud2,
    'instances/markers': MarkerArray, 'uncertainty/semantic': Image,
}
LATCHED = {'uncertainty/task_sigmas': Float32MultiArray}
# The README's "no camera at hand?" command; smaller frames keep a shared CPU keeping up.
SIM_CAMERA = ['run', 'mtl_perception', 'mtl_sim_camera', '--ros-args', '-r', '__ns:=/camera']
SMALL_FRAMES = ['-p', 'width:=320', '-p', 'height:=240', '-p', 'rate_hz:=5.0']
STARTUP_S = 240.0  # torch import and model load on a loaded 2-core machine
FAKE_RVIZ = '''#!{python}
"""A stand-in for rviz2: records its arguments and environment, runs until SIGINT."""
import json, os, signal, sys, time
with open(os.environ['FAKE_RVIZ_RECORD'], 'w') as handle:
    json.dump({{'argv': sys.argv[1:],
               'transports': os.environ.get('FASTDDS_BUILTIN_TRANSPORTS')}}, handle)
signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
while True:
    time.sleep(0.1)
'''


@pytest.fixture(scope='module')
def ros_graph():
    """Yield the environment of a private ROS graph, with rclpy initialised in this process."""
    require(modules=('launch', 'launch_ros', 'ros2launch', 'ros2cli', 'psutil'),
            executables=('ros2',))
    with joined_private_graph() as env:
        yield env


@pytest.fixture(scope='module')
def fake_rviz(tmp_path_factory):
    """Return an install prefix holding a package 'rviz2' whose executable records its call."""
    prefix = tmp_path_factory.mktemp('fake_rviz')
    marker = prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'rviz2'
    marker.parent.mkdir(parents=True)
    marker.touch()
    program = prefix / 'lib' / 'rviz2' / 'rviz2'
    program.parent.mkdir(parents=True)
    program.write_text(FAKE_RVIZ.format(python=sys.executable))
    program.chmod(0o755)
    return prefix


class Launched:
    """A launch process, its log file, and the processes it started."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, log: Path,
                 new_session: bool = False) -> None:
        self.log = log
        self.handle = open(log, 'w')
        self.process = subprocess.Popen(command, env=env, cwd=cwd, stdout=self.handle,
                                        stderr=subprocess.STDOUT,
                                        start_new_session=new_session)

    def output(self) -> str:
        """Return what the launch and its processes printed so far."""
        self.handle.flush()
        return self.log.read_text()

    def descendants(self) -> list:
        """Return the live processes the launch started (psutil objects)."""
        import psutil

        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def node(self):
        """Return the mtl_perception_node process, or None while it is not started."""
        for child in self.descendants():
            try:
                if any('mtl_perception_node' in part for part in child.cmdline()):
                    return child
            except Exception:  # noqa: BLE001 - exited meanwhile
                continue
        return None

    def interrupt_and_check_everything_ends(self, whole_group: bool) -> None:
        """Send SIGINT like Ctrl-C and fail unless the launch and all its processes end."""
        import psutil

        children = self.descendants()
        assert children, 'the launch started no processes:\n' + self.output()
        if whole_group:  # a terminal's Ctrl-C reaches the whole foreground process group
            os.killpg(os.getpgid(self.process.pid), signal.SIGINT)
        else:  # only the launch process: it must pass the shutdown on
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill_all()
            pytest.fail('the launch did not end 60 s after SIGINT:\n' + self.output())
        _, alive = psutil.wait_procs(children, timeout=30)
        left = [f'{p.pid} {p.name()}' for p in alive if p.status() != psutil.STATUS_ZOMBIE]
        self.kill_all(alive)
        assert not left, f'still running after SIGINT: {left}\n' + self.output()

    def kill_all(self, processes=None) -> None:
        """Kill what is left (clean-up after a failure)."""
        for child in processes if processes is not None else self.descendants():
            try:
                child.kill()
            except Exception:  # noqa: BLE001 - already gone
                pass
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.handle.close()


def _sourced(*command: str) -> list[str]:
    """Return ``command`` run after ``source install/setup.bash``, as the README says."""
    return ['bash', '-c', 'source install/setup.bash && exec "$@"', 'sourced', *command]


def _start_camera(env: dict[str, str], log: Path, namespace: str = '/camera',
                  cwd: Path | None = None, sourced: bool = False) -> subprocess.Popen:
    command = [executable('ros2'), *SIM_CAMERA, *SMALL_FRAMES]
    command[command.index('__ns:=/camera')] = f'__ns:={namespace}'
    command = _sourced(*command) if sourced else command
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=open(log, 'w'),
                            stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _listen(probe: Probe, namespace: str) -> dict[str, list]:
    """Record every documented output, the latched sigmas, /diagnostics and /rosout."""
    for topic, kind in OUTPUTS.items():
        probe.record(f'{namespace}/{topic}', kind, key=topic)
    latched = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    for topic, kind in {**LATCHED, 'rosout': Log}.items():
        name = '/rosout' if topic == 'rosout' else f'{namespace}/{topic}'
        probe.node.create_subscription(kind, name, probe.received[topic].append, latched)
    probe.record('/diagnostics', DiagnosticArray, key='diagnostics')
    return probe.received


def _wait_for_outputs(probe: Probe, launched: Launched, camera: subprocess.Popen,
                      camera_log: Path) -> None:
    wanted = [*OUTPUTS, *LATCHED, 'diagnostics']
    end = time.monotonic() + STARTUP_S
    while time.monotonic() < end:
        probe.spin_until(lambda: all(probe.received[t] for t in wanted), 1.0)
        if all(probe.received[t] for t in wanted):
            return
        if (launched.process.poll() is not None or camera.poll() is not None
                or 'process has died' in launched.output()):
            break
    missing = [t for t in wanted if not probe.received[t]]
    pytest.fail(f'no messages on {missing} (launch exit code {launched.process.poll()}, '
                f'camera {camera.poll()}):\n{launched.output()}\ncamera:\n'
                f'{camera_log.read_text()}')


def _rosout(probe: Probe, node_name: str) -> list[str]:
    return [m.msg for m in probe.received['rosout'] if m.name == node_name]


def _parameters(probe: Probe, node: str, names: list[str]) -> dict:
    client = probe.node.create_client(GetParameters, f'{node}/get_parameters')
    assert client.wait_for_service(timeout_sec=30), f'{node} offers no get_parameters'
    future = client.call_async(GetParameters.Request(names=names))
    probe.spin_until(future.done, 30.0)
    values = future.result().values
    return {name: rclpy.parameter.parameter_value_to_python(value)
            for name, value in zip(names, values)}


def test_launch_service_passes_every_argument_to_the_node(ros_graph, fake_rviz, tmp_path):
    """A LaunchService on the pip-world install; every argument set to a non-default value."""
    prefix = pip_world_install(tmp_path / 'prefix', tmp_path / 'build')
    env = ros_world_env(ros_graph, [prefix, fake_rviz])
    env['FAKE_RVIZ_RECORD'] = str(tmp_path / 'rviz.json')
    params = yaml.safe_load((REPO / 'config' / 'camera.yaml').read_text())
    params['/**']['ros__parameters'].update(max_range_m=17.5, diagnostics_period_s=0.5)
    (tmp_path / 'params.yaml').write_text(yaml.safe_dump(params))
    (tmp_path / 'models').mkdir()
    (tmp_path / 'models' / 'mine.pt').write_bytes((REPO / 'models' / 'default.pt').read_bytes())
    arguments = {'image': '/sim/image_raw', 'camera_info': '/sim/camera_info',
                 'namespace': 'perception', 'model_path': 'models/mine.pt', 'device': 'cpu',
                 'precision': 'fp16', 'params_file': str(tmp_path / 'params.yaml'),
                 'use_rviz': 'true', 'camera_frame': 'test_optical_frame',
                 'large_data': 'false'}
    script = (
        'import sys\n'
        'from ament_index_python.packages import get_package_share_directory\n'
        'from launch import LaunchDescription, LaunchService\n'
        'from launch.actions import IncludeLaunchDescription\n'
        'from launch.launch_description_sources import PythonLaunchDescriptionSource\n'
        "path = get_package_share_directory('mtl_perception') + '/launch/camera.launch.py'\n"
        "arguments = [tuple(a.split(':=', 1)) for a in sys.argv[1:]]\n"
        'service = LaunchService(noninteractive=True)\n'
        'service.include_launch_description(LaunchDescription([IncludeLaunchDescription(\n'
        '    PythonLaunchDescriptionSource(path), launch_arguments=arguments)]))\n'
        'sys.exit(service.run())\n')
    camera = _start_camera(env, tmp_path / 'camera.log', namespace='/sim')
    probe = Probe('/unused')
    received = _listen(probe, '/perception')
    launched = Launched([sys.executable, '-c', script,
                         *(f'{k}:={v}' for k, v in arguments.items())],
                        env, cwd=tmp_path, log=tmp_path / 'launch.log')
    try:
        _wait_for_outputs(probe, launched, camera, tmp_path / 'camera.log')
        values = _parameters(probe, '/perception/mtl_perception',
                             ['model_path', 'device', 'precision', 'max_range_m',
                              'diagnostics_period_s'])
        assert values == {'model_path': 'models/mine.pt', 'device': 'cpu',
                          'precision': 'fp16', 'max_range_m': 17.5,
                          'diagnostics_period_s': 0.5}
        probe.spin_until(lambda: len(_rosout(probe, 'perception.mtl_perception')) >= 2, 10.0)
        lines = _rosout(probe, 'perception.mtl_perception')
        # Logged through the node's logger, so /rosout carries it (Python logging would not).
        assert any('fp16 needs CUDA; running in fp32 on cpu' in line for line in lines), lines
        # The file read, as an absolute path, although model_path was relative.
        model = (tmp_path / 'models' / 'mine.pt').resolve()
        assert any(f'configured: model {model} on cpu (fp32)' in line for line in lines), lines
        depth = received['depth'][-1]
        assert depth.header.frame_id == 'camera_optical_frame'  # the sim camera's, via image
        recorded = json.loads((tmp_path / 'rviz.json').read_text())
        share = prefix.resolve() / 'share' / 'mtl_perception'
        assert recorded['argv'][:4] == ['-d', str(share / 'rviz' / 'mtl_perception.rviz'),
                                        '-f', 'test_optical_frame'], recorded
        assert recorded['transports'] is None  # large_data:=false
        assert 'FASTDDS_BUILTIN_TRANSPORTS' not in launched.node().environ()
        launched.interrupt_and_check_everything_ends(whole_group=False)
        assert launched.process.returncode == 0, launched.output()
    finally:
        launched.kill_all()
        probe.destroy()
        _stop(camera)


def test_ros2_launch_with_the_readme_arguments(ros_graph, tmp_path):
    """The README: colcon build, source install/setup.bash, ros2 launch; no rviz2 installed."""
    workspace = colcon_workspace(tmp_path / 'ws')
    env = {key: value for key, value in ros_graph.items()
           if key not in ('AMENT_PREFIX_PATH', 'PYTHONPATH', 'COLCON_PREFIX_PATH')}
    env['PATH'] = os.pathsep.join([str(Path(sys.executable).parent), env.get('PATH', '')])
    env.setdefault('OMP_NUM_THREADS', '1')
    camera = _start_camera(env, tmp_path / 'camera.log', cwd=workspace, sourced=True)
    probe = Probe('/unused')
    _listen(probe, '/mtl')
    launched = Launched(_sourced('ros2', 'launch', 'mtl_perception', 'camera.launch.py',
                                 'image:=/camera/image_raw', 'camera_info:=/camera/camera_info',
                                 'camera_frame:=camera_optical_frame', 'use_rviz:=true'),
                        env, cwd=workspace, log=tmp_path / 'launch.log', new_session=True)
    try:
        _wait_for_outputs(probe, launched, camera, tmp_path / 'camera.log')
        assert launched.process.poll() is None, 'the launch ended:\n' + launched.output()
        assert 'rviz2 package is not installed' in launched.output()
        lines = _rosout(probe, 'mtl.mtl_perception')
        model = workspace / 'install' / 'mtl_perception' / 'share' / 'mtl_perception' / 'models'
        assert any(f'configured: model {model.resolve()}/default.pt' in line
                   for line in lines), lines
        # The ros2 CLI a user reaches for next (without starting a ros2 daemon).
        cli = _sourced('ros2')
        no_daemon = ['--no-daemon', '--spin-time', '5', '/mtl/mtl_perception']
        state = run([*cli, 'lifecycle', 'get', *no_daemon], timeout_s=60, env=env,
                    cwd=workspace).stdout
        assert state.startswith('active'), state
        device = run([*cli, 'param', 'get', *no_daemon, 'device'], timeout_s=60, env=env,
                     cwd=workspace).stdout
        assert 'auto' in device, device
        refused = subprocess.run([*cli, 'param', 'set', *no_daemon, 'max_range_m', '-1.0'],
                                 env=env, cwd=workspace, capture_output=True, text=True,
                                 timeout=60)
        assert 'Setting parameter failed' in refused.stdout + refused.stderr, refused
        launched.interrupt_and_check_everything_ends(whole_group=True)
    finally:
        launched.kill_all()
        probe.destroy()
        _stop(camera)


def test_large_data_reaches_node_and_rviz_and_ctrl_c_ends_a_start(ros_graph, fake_rviz, tmp_path):
    """``large_data:=true`` sets the transports for the node and RViz; SIGINT while loading."""
    prefix = pip_world_install(tmp_path / 'prefix', tmp_path / 'build')
    env = ros_world_env(ros_graph, [prefix, fake_rviz])
    env['FAKE_RVIZ_RECORD'] = str(tmp_path / 'rviz.json')
    launched = Launched([executable('ros2'), 'launch', 'mtl_perception', 'camera.launch.py',
                         'large_data:=true', 'use_rviz:=true'],
                        env, cwd=tmp_path, log=tmp_path / 'launch.log', new_session=True)
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end and not (launched.node() and
                                              (tmp_path / 'rviz.json').exists()):
            time.sleep(0.2)
        node = launched.node()
        assert node is not None, launched.output()
        assert node.environ().get('FASTDDS_BUILTIN_TRANSPORTS') == 'LARGE_DATA'
        time.sleep(0.5)  # the stand-in writes its record first thing
        assert json.loads((tmp_path / 'rviz.json').read_text())['transports'] == 'LARGE_DATA'
        launched.interrupt_and_check_everything_ends(whole_group=True)  # the node still loads
    finally:
        launched.kill_all()
