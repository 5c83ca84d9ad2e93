"""Data sets and joint transforms: Cityscapes-layout frames (real or generated) as samples."""

from mtl_perception.core.data.cityscapes import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    CityscapesDataset,
    DatasetError,
    build_dataset,
    instance_offsets,
)

__all__ = ['CityscapesDataset', 'DatasetError', 'IMAGENET_MEAN', 'IMAGENET_STD',
           'build_dataset', 'instance_offsets']
