"""Generated scenes with exact ground truth: PyBullet rendering and the Cityscapes-layout writer.

PyBullet is imported only when a :class:`SceneRenderer` starts, so this package imports (and
its pure parts run) without it.
"""

from mtl_perception.core.synth.camera import PinholeCamera
from mtl_perception.core.synth.scene import (
    GENERATOR_VERSION,
    Frame,
    InstanceInfo,
    Scene,
    SceneRenderer,
    SceneSequence,
    render_frame,
)

__all__ = ['Frame', 'GENERATOR_VERSION', 'InstanceInfo', 'PinholeCamera', 'Scene',
           'SceneRenderer', 'SceneSequence', 'render_frame']
