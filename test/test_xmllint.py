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
ament_xmllint: package.xml is well-formed and valid against the package format 3 schema.

The schema named in package.xml (http://download.ros.org/schema/package_format3.xsd) cannot be
fetched offline; an XML catalog points xmllint at the copy shipped in ../shared/ros-tools/xsd.
"""

import os
from pathlib import Path
import shutil
import subprocess

import pytest
from ros_tools import package_paths, REPO, ROS_TOOLS

XSD = ROS_TOOLS / 'xsd'
SCHEMA_URL = 'http://download.ros.org/schema/'


@pytest.fixture
def offline_schema(tmp_path, monkeypatch):
    """Point xmllint's schema URL at the shipped schemas (no network here)."""
    if not (XSD / 'package_format3.xsd').exists():
        pytest.skip(f'no offline package.xml schema: {XSD} is missing (../shared/ros-tools)')
    if shutil.which('xmllint') is None:
        pytest.skip('xmllint not installed (apt-get install libxml2-utils; .ci/run does)')
    catalog = tmp_path / 'catalog.xml'
    catalog.write_text(
        '<?xml version="1.0"?>\n'
        '<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">\n'
        f'  <rewriteURI uriStartString="{SCHEMA_URL}" rewritePrefix="{XSD.as_uri()}/"/>\n'
        f'  <rewriteSystem systemIdStartString="{SCHEMA_URL}" rewritePrefix="{XSD.as_uri()}/"/>\n'
        '</catalog>\n')
    monkeypatch.setenv('XML_CATALOG_FILES', str(catalog))
    return catalog


@pytest.mark.xmllint
@pytest.mark.linter
def test_xmllint(offline_schema):
    main = pytest.importorskip(
        'ament_xmllint.main', reason='ament_xmllint not installed (a ROS 2 install or '
        '../shared/ros-tools provides it; make test installs it from there)').main
    # package.xml against its schema, every other XML file of the package (the Fast DDS
    # profile in config/) for well-formedness, as ament_xmllint does in a ROS package.
    paths = [p for p in package_paths(python_only=False)
             if Path(p).is_dir() or p.endswith('.xml')]
    rc = main(argv=paths)
    assert rc == 0, 'Found errors'


def test_the_schema_really_applies(offline_schema, tmp_path):
    """A manifest with an element the schema does not allow must fail: the check can fail."""
    broken = tmp_path / 'package.xml'
    text = (REPO / 'package.xml').read_text()
    broken.write_text(text.replace('<exec_depend>rclpy</exec_depend>',
                                   '<run_depend>rclpy</run_depend>'))
    result = subprocess.run(
        ['xmllint', '--nonet', '--noout', '--schema', SCHEMA_URL + 'package_format3.xsd',
         str(broken)], capture_output=True, text=True, env=dict(os.environ))
    assert result.returncode != 0, result.stderr
    assert 'run_depend' in result.stderr
