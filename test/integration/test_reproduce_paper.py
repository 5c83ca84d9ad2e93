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

"""The paper study's bookkeeping: Delta_m, paired intervals, resuming, the report writer."""

from dataclasses import replace
import importlib.util
import json
import math
from pathlib import Path
import sys

from mtl_perception.core.report import write_marked_section
import mtl_perception.core.study as study_library
from mtl_perception.core.study import (
    delta_m,
    equilibrium,
    mean_interval,
    paired_difference,
    ResultsFile,
    student_t_quantile,
)
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / 'experiments' / 'reproduce_paper.py'


@pytest.fixture(scope='module')
def study():
    return study_library


@pytest.fixture(scope='module')
def script():
    spec = importlib.util.spec_from_file_location('reproduce_paper', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules['reproduce_paper'] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop('reproduce_paper', None)


def test_delta_m_signs_lower_is_better_metrics():
    baseline = {'semantic_miou': 0.5, 'instance_mean_error_px': 10.0,
                'inverse_depth_mean_error': 0.1}
    # mIoU +10 % (better), instance error -10 % (better), depth error +10 % (worse).
    metrics = {'semantic_miou': 0.55, 'instance_mean_error_px': 9.0,
               'inverse_depth_mean_error': 0.11}
    assert delta_m(metrics, baseline) == pytest.approx(100.0 * (0.1 + 0.1 - 0.1) / 3)
    # Only the tasks an arm trains count.
    assert delta_m({'semantic_miou': 0.45}, baseline) == pytest.approx(-10.0)
    assert math.isnan(delta_m({}, baseline))
    with pytest.raises(ValueError, match='non-zero'):
        delta_m(metrics, {**baseline, 'semantic_miou': 0.0})


def test_student_t_quantiles_match_tables():
    for dof, expected in ((1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (30, 2.0423)):
        assert student_t_quantile(0.975, dof) == pytest.approx(expected, abs=1e-4)
    assert student_t_quantile(0.025, 4) == pytest.approx(-2.7764, abs=1e-4)


def test_paired_interval_uses_only_shared_seeds():
    first = {0: 1.0, 1: 2.0, 2: 3.0, 7: 100.0}
    second = {0: 0.0, 1: 0.0, 2: 0.0, 9: -100.0}
    interval = paired_difference(first, second)
    half = 4.302653 * 1.0 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(n); sd of 1, 2, 3 is 1
    assert interval.count == 3
    assert interval.mean == pytest.approx(2.0)
    assert (interval.low, interval.high) == pytest.approx((2.0 - half, 2.0 + half), abs=1e-5)
    assert not interval.excludes_zero
    # Pairing removes what the seeds share: a constant offset is significant however noisy
    # the seeds are.
    noisy = {s: 10.0 * s for s in range(5)}
    shifted = {s: v + 0.5 + 0.01 * (s % 2) for s, v in noisy.items()}
    assert paired_difference(shifted, noisy).excludes_zero
    # Unpaired, the two arms' intervals overlap widely.
    assert mean_interval(list(shifted.values())).low < mean_interval(list(noisy.values())).high
    assert mean_interval([3.0]).count == 1 and math.isnan(mean_interval([3.0]).low)


def test_equilibrium_is_reached_when_s_tracks_log_loss():
    steps = list(range(10, 1010, 10))
    loss = [4.0] * len(steps)  # regression: s* = log 4 = 1.386
    approach = [min(1.386, 0.02 * i) for i in range(len(steps))]
    result = equilibrium(steps, approach, loss, classification=False)
    assert result.reached and result.held_from == steps[63]  # 0.02 * 63 >= 1.386 - 0.1386
    stuck = equilibrium(steps, [0.5] * len(steps), loss, classification=False)
    assert not stuck.reached and stuck.first_step is None
    assert result.fraction_second_half == pytest.approx(37 / 50)  # steps 640.. of 510..1000
    assert stuck.fraction_second_half == 0.0
    # Classification: the optimum is log 2L.
    assert equilibrium(steps, [math.log(8.0)] * len(steps), loss, True).held_from == 10


def fake_runner(calls):
    """Stand-in for training: metrics that make the 3-task grid's best cell known."""
    def run(spec):
        calls.append((spec['arm'], spec['seed']))
        weights = spec['weights']
        # Validation favours the 3-task cell with instance/semantic 0.01 and depth/semantic 3;
        # test favours the others, so a selection that peeked at test would pick another cell.
        semantic = weights.get('semantic', 1.0)
        instance = weights.get('instance', 1.0) / semantic
        depth = weights.get('depth', 1.0) / semantic
        quality = -abs(math.log10(instance) + 2) - abs(math.log10(depth / 3))  # best: 0
        metrics = {'semantic': ('semantic_miou', 0.5), 'instance': ('instance_mean_error_px', 9.0),
                   'depth': ('inverse_depth_mean_error', 0.1)}
        record = {k: v for k, v in spec.items() if k not in ('train', 'evaluation')}
        record['val'], record['test'] = {}, {}
        for task in spec['tasks']:
            key, value = metrics[task]
            better = -1.0 if key != 'semantic_miou' else 1.0  # errors shrink when better
            noise = 0.001 * spec['seed']
            record['val'][key] = value * (1 + better * 0.01 * quality + noise)
            record['test'][key] = value * (1 - better * 0.01 * quality + noise)
        record['wall_s'] = 0.0
        if spec['weighting'] == 'uncertainty':
            record['final_weights'] = dict.fromkeys(spec['tasks'], 0.5)
        return record
    return run


def test_resume_skips_finished_runs_and_selects_on_validation(study, tmp_path):
    profile = replace(study.PROFILES['smoke'], seeds=2, grid_seeds=1)
    store = ResultsFile(tmp_path / 'results.jsonl')
    calls = []
    first = study.execute(profile, tmp_path, store, fake_runner(calls), jobs=1, max_runs=7)
    assert first == 7 and len(store.load()) == 7
    rest = study.execute(profile, tmp_path, store, fake_runner(calls), jobs=1)
    assert rest == len(study.schedule(profile)) - 7
    assert len(set(calls)) == len(calls), 'a finished run was trained again'
    # A third session has nothing to do.
    assert study.execute(profile, tmp_path, store, fake_runner(calls), jobs=1) == 0
    records = store.load()
    best = [r for r in records if r['arm'] == 'best_fixed_3task']
    assert {r['seed'] for r in best} == {0, 1}
    assert best[0]['weights']['instance'] == pytest.approx(
        0.01 / (1 + 0.01 + 3.0), abs=1e-5), 'best cell was not chosen on validation'
    frozen = [r for r in records if r['arm'] == 'fixed_from_uncertainty_3task']
    assert frozen and frozen[0]['weights'] == {'semantic': 0.5, 'instance': 0.5, 'depth': 0.5}
    # A changed budget is a different configuration: its runs are not reused.
    longer = replace(profile, steps=profile.steps + 1)
    ready, _ = study.ready_specs(longer, study.of_profile(store.load(), longer), tmp_path)
    assert len(ready) >= len(study.CORE_ARMS) * 2


def test_damaged_last_line_is_skipped_and_redone(tmp_path):
    store = ResultsFile(tmp_path / 'results.jsonl')
    store.append({'arm': 'single_depth', 'seed': 0, 'config_hash': 'abc', 'val': {}})
    with store.path.open('a') as handle:
        handle.write('{"arm": "single_depth", "seed": 1, "conf')  # killed mid-write
    assert [r['seed'] for r in store.load()] == [0]
    assert store.skipped_lines == 1
    assert store.done() == {('single_depth', 0, 'abc')}


def test_report_rewrites_only_its_section(study, tmp_path):
    profile = replace(study.PROFILES['smoke'], seeds=2, grid_seeds=1)
    store = ResultsFile(tmp_path / 'results.jsonl')
    study.execute(profile, tmp_path, store, fake_runner([]), jobs=1)
    records = study.current_records(store.load(), profile, tmp_path)
    target = tmp_path / 'results.md'
    head = '# Results\n\n## The default model\n\nlead text, untouched\n\n'
    tail = '\n\n## Later section\n\nmore lead text\n'
    target.write_text(head + '<!-- paper-study:begin -->\nold numbers\n'
                      '<!-- paper-study-findings:begin -->\nhand-written findings\n'
                      '<!-- paper-study-findings:end -->\n<!-- paper-study:end -->' + tail)
    section = study.report(records, 'smoke', profile, 'cmd', 'cpu', 60.0,
                           study.existing_findings(target), [])
    write_marked_section(target, study.MARKER, section, heading='# Results')
    text = target.read_text()
    assert text.startswith(head + '<!-- paper-study:begin -->\n')
    assert text.endswith('<!-- paper-study:end -->' + tail)
    assert 'old numbers' not in text
    assert 'hand-written findings' in text
    assert '| uncertainty_3task | learned |' in text
    assert '| equal_3task |' in text.split('### Paired differences')[1]
    # Rewriting again changes nothing but the numbers' section.
    write_marked_section(target, study.MARKER, section, heading='# Results')
    assert target.read_text() == text
    exported = study.export_records(records)
    assert {e['split'] for e in exported} == {'val', 'test'}
    assert all({'arm', 'seed', 'split', 'delta_m', 'semantic_miou'} <= set(e) for e in exported)
    json.dumps(exported)


def test_report_appends_markers_when_missing(study, tmp_path):
    target = tmp_path / 'results.md'
    target.write_text('# Results\n\nlead text\n')
    write_marked_section(target, study.MARKER, 'study\n', heading='# Results')
    assert target.read_text() == ('# Results\n\nlead text\n\n<!-- paper-study:begin -->\n'
                                  'study\n<!-- paper-study:end -->\n')


def test_report_only_rebuilds_the_report_from_finished_runs(study, script, tmp_path):
    profile = study.PROFILES['smoke']
    store = ResultsFile(tmp_path / 'results.jsonl')
    study.execute(profile, tmp_path, store, fake_runner([]), jobs=1, max_runs=5)
    results, records = tmp_path / 'docs' / 'results.md', tmp_path / 'docs' / 'results.json'
    assert script.main(['--out', str(tmp_path), '--profile', 'smoke', '--report-only',
                        '--results', str(results), '--records', str(records),
                        '--command', 'cmd']) == 0
    assert len(store.load()) == 5, '--report-only trained something'
    assert '<!-- paper-study:begin -->' in results.read_text()
    assert '| equal_3task |' in results.read_text()
    assert {e['arm'] for e in json.loads(records.read_text())} >= {'single_semantic'}
