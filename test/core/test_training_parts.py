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


"""The training library's small parts: resumable batches, the schedule, log truncation."""

from mtl_perception.core.training import (
    EpochBatches,
    learning_rate_factor,
    RunLog,
    steps_per_epoch,
    truncate_logs,
)
import pytest


def test_a_resumed_epoch_sees_the_batches_the_whole_epoch_would_have():
    whole = list(EpochBatches(40, 4, seed=3, epoch=2))
    assert list(EpochBatches(40, 4, seed=3, epoch=2, start_batch=4)) == whole[4:]
    assert list(EpochBatches(40, 4, seed=3, epoch=3)) != whole


def test_ranks_get_disjoint_shards_of_full_steps():
    shards = [list(EpochBatches(42, 4, seed=0, epoch=0, rank=r, world=2)) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == steps_per_epoch(42, 4, 2) == 5
    flat = [i for shard in shards for batch in shard for i in batch]
    assert len(flat) == len(set(flat)) == 40


def test_learning_rate_warms_up_then_decays_to_zero():
    assert learning_rate_factor(0, 100, 10) == pytest.approx(0.1)
    assert learning_rate_factor(9, 100, 10) == pytest.approx(1.0)
    assert learning_rate_factor(10, 100, 10) == pytest.approx(1.0)
    assert learning_rate_factor(55, 100, 10) == pytest.approx(0.5)
    assert learning_rate_factor(100, 100, 10) == pytest.approx(0.0)


def test_truncate_logs_drops_the_rows_after_the_resumed_state(tmp_path):
    log = RunLog(tmp_path, tensorboard=False)
    for step in (10, 20, 30):
        log.append('log.csv', {'step': step, 'total': 1.0 / step})
    log.append('eval.csv', {'step': 30, 'semantic_miou': 0.5})
    truncate_logs(tmp_path, 20)
    rows = (tmp_path / 'log.csv').read_text().splitlines()
    assert rows[0] == 'step,total' and [r.split(',')[0] for r in rows[1:]] == ['10', '20']
    assert not (tmp_path / 'eval.csv').exists()
