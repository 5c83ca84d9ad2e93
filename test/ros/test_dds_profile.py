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

"""The node's Fast DDS profile: applied only when the user has not chosen one."""

from mtl_perception.ros.qos import shipped_profile_path, use_shipped_dds_profile
import pytest


def test_the_shipped_profile_is_found_and_is_a_fast_dds_profile():
    path = shipped_profile_path()
    assert path is not None and path.name == 'fastdds_large_outputs.xml'
    text = path.read_text()
    assert 'is_default_profile="true"' in text and '<segment_size>' in text


def test_applied_when_nothing_is_chosen():
    environ = {}
    note = use_shipped_dds_profile(environ)
    assert environ['FASTDDS_DEFAULT_PROFILES_FILE'] == str(shipped_profile_path())
    assert 'fastdds_large_outputs.xml' in note


@pytest.mark.parametrize('chosen', [
    {'FASTDDS_DEFAULT_PROFILES_FILE': '/mine.xml'},
    {'FASTRTPS_DEFAULT_PROFILES_FILE': '/mine.xml'},
    {'FASTDDS_BUILTIN_TRANSPORTS': 'LARGE_DATA'},
    {'RMW_IMPLEMENTATION': 'rmw_cyclonedds_cpp'},
    {'MTL_PERCEPTION_DDS_PROFILE': 'none'},
])
def test_the_users_choice_wins(chosen):
    environ = dict(chosen)
    use_shipped_dds_profile(environ)
    assert environ == chosen


def test_another_file_can_be_named(tmp_path):
    mine = tmp_path / 'profile.xml'
    mine.write_text('<dds/>')
    environ = {'MTL_PERCEPTION_DDS_PROFILE': str(mine)}
    use_shipped_dds_profile(environ)
    assert environ['FASTDDS_DEFAULT_PROFILES_FILE'] == str(mine)
