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
The house rules, pinned: layers import one way, tools are entry points, modules stay small.

Read from the source with :mod:`ast` (nothing is imported), so a rule broken by a function-level
import counts as much as one at the top of a module.
"""

import ast
from pathlib import Path
import re

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / 'mtl_perception'
MODULES = sorted(PACKAGE.rglob('*.py'))
# What each part of the package may import from the others (its own part always).
ALLOWED = {
    'core': set(),
    'synth': {'core'},
    'bag': {'core'},
    'ros': {'core', 'bag', 'synth'},
    'tools': {'core', 'bag', 'synth', 'ros'},
}
MAX_LINES = 400
MAX_TOOL_LINES = 250
LONG_REASON = re.compile(r'stays one module because', re.IGNORECASE)


def _part(module: Path) -> str:
    relative = module.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else ''


def _imported(module: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(module.read_text(), str(module))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [node.module] + [f'{node.module}.{alias.name}' for alias in node.names]
    return [name for name in names if name.startswith('mtl_perception.')]


def test_every_part_of_the_package_is_known_to_these_rules():
    parts = {_part(module) for module in MODULES} - {''}
    assert parts == set(ALLOWED), 'a new top-level part needs its row in ALLOWED'


@pytest.mark.parametrize('module', MODULES, ids=lambda m: str(m.relative_to(PACKAGE)))
def test_imports_point_down_the_layers(module):
    part = _part(module)
    if not part:
        assert not _imported(module), 'mtl_perception/__init__.py must stay light'
        return
    wrong = sorted({name for name in _imported(module)
                    if name.split('.')[1] not in ALLOWED[part] | {part}})
    assert not wrong, f'{part}/ may not import {wrong}'


@pytest.mark.parametrize('module', [m for m in MODULES if _part(m) == 'tools'],
                         ids=lambda m: m.name)
def test_a_tool_is_an_entry_point_that_imports_no_other_tool(module):
    own = f'mtl_perception.tools.{module.stem}'
    others = sorted({name for name in _imported(module)
                     if name.startswith('mtl_perception.tools.') and not name.startswith(own)})
    assert not others, f'{module.name} imports other tools: {others}; move the shared code '\
        'into the library'
    lines = len(module.read_text().splitlines())
    assert module.stem == '__init__' or 'def main(' in module.read_text()
    assert lines <= MAX_TOOL_LINES, f'{module.name} has {lines} lines: library code belongs in '\
        'the library, the tool keeps its argument parsing and main()'


@pytest.mark.parametrize('module', MODULES, ids=lambda m: str(m.relative_to(PACKAGE)))
def test_a_module_over_400_lines_says_why_in_its_docstring(module):
    text = module.read_text()
    lines = len(text.splitlines())
    if lines > MAX_LINES:
        docstring = ast.get_docstring(ast.parse(text)) or ''
        assert LONG_REASON.search(docstring), (
            f'{module.relative_to(PACKAGE)} has {lines} lines: split it by job, or say in its '
            'docstring why it "stays one module because ..."')
