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

"""The core, training and evaluation import without ROS; importing the package stays light."""

import subprocess
import sys
import textwrap

BLOCK_ROS = textwrap.dedent("""
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            root = name.split('.')[0]
            if root in {'rclpy', 'sensor_msgs', 'std_msgs', 'visualization_msgs',
                        'diagnostic_msgs', 'rosbags', 'cv_bridge', 'launch', 'launch_ros'}:
                raise ImportError(f'{name} is blocked in this test')
            return None
    sys.meta_path.insert(0, Block())
""")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', BLOCK_ROS + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120)


def test_core_modules_import_without_ros():
    result = _run("""
        import importlib, pkgutil
        import mtl_perception.core as core
        names = [m.name for m in pkgutil.walk_packages(core.__path__, 'mtl_perception.core.')]
        for name in names:
            importlib.import_module(name)
        print(len(names))
    """)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 6


def test_package_import_is_light():
    result = _run("""
        import sys
        import mtl_perception
        heavy = [m for m in ('torch', 'rclpy', 'cv2') if m in sys.modules]
        print(heavy)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'


def test_training_and_evaluation_run_without_ros():
    # A training machine has no ROS: the entry points must import and answer --help there.
    result = _run("""
        import contextlib, io
        from mtl_perception.tools import evaluate, export, train
        for tool in (train, evaluate, export):
            with contextlib.redirect_stdout(io.StringIO()) as out:
                try:
                    tool.main(['--help'])
                except SystemExit as done:
                    assert done.code == 0, (tool.__name__, done.code)
            assert 'usage' in out.getvalue(), tool.__name__
        print('ok')
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'ok'
