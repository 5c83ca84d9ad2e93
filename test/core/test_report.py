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


"""Marked report sections: one section rewritten, the rest of the file kept byte for byte."""

from mtl_perception.core.benchmark import markdown_section
from mtl_perception.core.report import write_marked_section


def test_a_section_is_replaced_and_the_rest_kept(tmp_path):
    target = tmp_path / 'benchmarks.md'
    head = '# Benchmarks\n\nintro\n\n'
    tail = '\n\n<!-- other:begin -->\nother numbers\n<!-- other:end -->\n'
    target.write_text(head + '<!-- mine:begin -->\nold\n<!-- mine:end -->' + tail)
    write_marked_section(target, 'mine', 'new numbers\n')
    assert target.read_text() == (head + '<!-- mine:begin -->\nnew numbers\n<!-- mine:end -->'
                                  + tail)


def test_a_missing_section_is_appended_and_a_new_file_gets_its_heading(tmp_path):
    target = tmp_path / 'docs' / 'results.md'
    write_marked_section(target, 'study', 'numbers', heading='# Results')
    assert target.read_text() == '# Results\n\n<!-- study:begin -->\nnumbers\n<!-- study:end -->\n'
    write_marked_section(target, 'later', 'more\n')
    assert target.read_text().endswith('<!-- study:end -->\n\n<!-- later:begin -->\nmore\n'
                                       '<!-- later:end -->\n')


def test_markers_out_of_order_are_not_mistaken_for_a_section(tmp_path):
    target = tmp_path / 'notes.md'
    target.write_text('<!-- mine:end -->\ntext\n<!-- mine:begin -->\n')
    write_marked_section(target, 'mine', 'numbers\n')
    assert target.read_text().startswith('<!-- mine:end -->\ntext\n<!-- mine:begin -->\n\n')


def test_every_benchmark_section_has_the_same_shape():
    section = markdown_section('Speed (cpu)', ['command: `x`', 'date: today'],
                               ['size', 'ms'], [['320x240', '1.5'], ['640x480', '6.0']])
    assert section == ('## Speed (cpu)\n\n- command: `x`\n- date: today\n\n| size | ms |\n'
                       '|---|---|\n| 320x240 | 1.5 |\n| 640x480 | 6.0 |\n')
