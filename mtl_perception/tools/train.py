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
``mtl_train``: train the multi-task network on Cityscapes-layout data.

Configuration flows dataclass defaults -> YAML (``--config``) -> command line; the resolved
config is written to ``<out>/config.yaml``. The run folder holds ``train_state.pt`` (everything
needed to resume exactly, written atomically every ``checkpoint_every_steps``), ``model.pt``
(the deployable checkpoint), ``log.csv`` / ``eval.csv`` (every task loss, weighted term,
learned sigma and metric) and ``curves.png``. Start it again with the same ``--out`` and it
resumes from the last state, losing at most one checkpoint interval.

Multi-GPU: ``torchrun --nproc-per-node N -m mtl_perception.tools.train ...`` runs
DistributedDataParallel (NCCL on CUDA, Gloo on the CPU). The library:
:mod:`mtl_perception.core.training`.
"""

from __future__ import annotations

import argparse
import logging
import sys

from mtl_perception.core.config_io import add_dataclass_arguments, ConfigError, resolve_config
from mtl_perception.core.training import run, TrainConfig

LOGGER = logging.getLogger('mtl_train')


def parse_config(argv: list[str] | None = None) -> TrainConfig:
    """Return the validated config of defaults, ``--config`` YAML and the command line."""
    parser = argparse.ArgumentParser(
        prog='mtl_train', description=__doc__.split('\n\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--config', help='YAML file with any of the options below')
    add_dataclass_arguments(parser, TrainConfig)
    args = parser.parse_args(argv)
    try:
        config = resolve_config(TrainConfig(), args, args.config)
        config.validate()
    except ConfigError as error:
        parser.error(str(error))
    return config


def main(argv: list[str] | None = None) -> int:
    """Train (or resume) one run; return 2 on a configuration or data error."""
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    config = parse_config(argv)
    try:
        run(config)
    except (ConfigError, FileNotFoundError, ValueError) as error:
        LOGGER.error('%s', error)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
