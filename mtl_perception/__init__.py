"""mtl_perception: one network for semantics, instance centres and inverse depth.

Importing the package is cheap on purpose: it never imports rclpy, never initialises CUDA and
never loads a model. The ROS-free core lives in :mod:`mtl_perception.core`, the ROS adapters in
:mod:`mtl_perception.ros` and the console entry points in :mod:`mtl_perception.tools`.
"""

__version__ = '0.1.0'
