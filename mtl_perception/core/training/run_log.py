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
What a run leaves to read: ``log.csv`` / ``eval.csv`` rows, TensorBoard scalars, ``curves.png``.

Every task loss, weighted term, learned sigma, effective weight and validation metric goes to
CSV (one header per file, rows appended as training goes); TensorBoard is optional.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger('mtl_train')


class RunLog:
    """CSV (and optionally TensorBoard) logs of losses, sigmas and metrics."""

    def __init__(self, out: Path, tensorboard: bool) -> None:
        self.out = out
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(out / 'tensorboard'))
            except ImportError:
                LOGGER.warning('tensorboard is not installed; logging to CSV only')

    def append(self, name: str, row: dict[str, Any]) -> None:
        """Append one row to the CSV file ``name`` (header first) and to TensorBoard."""
        path = self.out / name
        new = not path.exists()
        with path.open('a', newline='') as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self.writer is not None:
            step = int(row.get('step', 0))
            for key, value in row.items():
                if key not in ('step', 'epoch') and isinstance(value, (int, float)):
                    self.writer.add_scalar(f'{name.split(".")[0]}/{key}', value, step)


def flat_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Return the scalar metrics only (per-class tables left out), as floats."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}


def plot_curves(out: Path) -> Path | None:
    """Loss curves and learned sigmas over training, as one PNG."""
    path = out / 'log.csv'
    if not path.exists():
        return None
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    with path.open(newline='') as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return None
    steps = [float(r['step']) for r in rows]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4))
    for key in rows[0]:
        values = [float(r[key]) for r in rows]
        if key.startswith('loss_'):
            axes[0].plot(steps, values, label=key[5:])
        elif key == 'total':
            axes[1].plot(steps, values, label='total (may go negative)')
        elif key.startswith('sigma_'):
            axes[2].plot(steps, values, label=key[6:])
    axes[0].set(title='task losses', xlabel='step', yscale='log')
    axes[1].set(title='weighted total', xlabel='step')
    axes[2].set(title='learned sigma', xlabel='step', yscale='log')
    for axis in axes:
        if axis.get_legend_handles_labels()[0]:
            axis.legend()
        axis.grid(alpha=0.3)
    figure.tight_layout()
    target = out / 'curves.png'
    figure.savefig(target, dpi=90)
    plt.close(figure)
    return target
