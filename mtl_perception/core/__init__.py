"""The ROS-free core: model, losses, data, post-processing, geometry, metrics, Predictor.

Only NumPy, PyTorch and small pure-Python libraries may be imported here; a test fails if any
module under this package imports rclpy or a ROS message package.
"""

IGNORE_INDEX = 255
"""Label value that losses and metrics ignore (the Cityscapes convention)."""
