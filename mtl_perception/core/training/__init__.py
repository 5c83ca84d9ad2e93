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
Training of the multi-task network, ROS-free: ``mtl_train`` and the experiments call this.

One job per module: :mod:`.config` (the run's knobs), :mod:`.module` (network + losses +
weighting, optimizer), :mod:`.data` (data sets and resumable batches), :mod:`.loop` (epoch,
evaluation, :func:`run`), :mod:`.state` (resume, seeds, processes, checkpoints) and
:mod:`.run_log` (CSV logs and curves).
"""

from mtl_perception.core.training.config import build_model_config, TrainConfig
from mtl_perception.core.training.data import (
    build_data,
    EpochBatches,
    make_loader,
    steps_per_epoch,
)
from mtl_perception.core.training.loop import (
    autocast_dtype,
    evaluate,
    learning_rate_factor,
    run,
    train_one_epoch,
)
from mtl_perception.core.training.module import (
    build_optimizer,
    build_run,
    check_finite,
    move_batch,
    MultiTaskTrainModule,
)
from mtl_perception.core.training.run_log import flat_metrics, plot_curves, RunLog
from mtl_perception.core.training.state import (
    load_train_state,
    save_deployable,
    save_train_state,
    seed_everything,
    setup_distributed,
    truncate_logs,
)

__all__ = [
    'autocast_dtype', 'build_data', 'build_model_config', 'build_optimizer', 'build_run',
    'check_finite', 'EpochBatches', 'evaluate', 'flat_metrics', 'learning_rate_factor',
    'load_train_state', 'make_loader', 'move_batch', 'MultiTaskTrainModule', 'plot_curves',
    'run', 'RunLog', 'save_deployable', 'save_train_state', 'seed_everything',
    'setup_distributed', 'steps_per_epoch', 'train_one_epoch', 'TrainConfig', 'truncate_logs',
]
