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
Offline evaluation, ROS-free: ``mtl_evaluate``, the experiments and the tests call this.

:mod:`.split_metrics` (the paper's metrics of a checkpoint on a split), :mod:`.cityscapes_format`
(predictions in the official results format), :mod:`.cityscapes_scoring` (the official
cityscapesScripts evaluators on them) and :mod:`.real_stereo` (depth on real stereo photos).
"""

from mtl_perception.core.eval.cityscapes_format import (
    frame_stem,
    result_paths,
    train_to_label_table,
    write_cityscapes_results,
    write_frame_results,
    write_ground_truth_results,
)
from mtl_perception.core.eval.cityscapes_scoring import score_cityscapes_results, write_scores
from mtl_perception.core.eval.real_stereo import evaluate_real_stereo
from mtl_perception.core.eval.split_metrics import (
    evaluate_checkpoint,
    metrics_table,
    official_cityscapes_scores,
    real_stereo_report,
)

__all__ = [
    'evaluate_checkpoint', 'evaluate_real_stereo', 'frame_stem', 'metrics_table',
    'official_cityscapes_scores', 'real_stereo_report', 'result_paths',
    'score_cityscapes_results', 'train_to_label_table', 'write_cityscapes_results',
    'write_frame_results', 'write_ground_truth_results', 'write_scores',
]
