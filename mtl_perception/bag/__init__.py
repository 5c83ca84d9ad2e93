"""rosbag2 reading and writing with the ``rosbags`` library (no rosbag2 installation needed)."""
