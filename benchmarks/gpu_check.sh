#!/bin/sh
# The GPU check of the frame path (issue 11), prepared for a lent GPU machine; one run, about
# two minutes after the first TensorRT engine build (cached next to the exported ONNX file).
#
#   sh benchmarks/gpu_check.sh            # writes the frame-path-cuda-* sections of docs/benchmarks.md
#
# Needs: this package installed with its 'core', 'onnx' and 'ros' extras into a Python with
# CUDA PyTorch, and the tensorrt wheel (pip install tensorrt) for the TensorRT rows. Targets
# (docs/benchmarks.md): >= 250 frames/s end to end at 640x480, end to end <= 1.3x forward.
set -eu
cd "$(dirname "$0")/.."
python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'"
BACKENDS="torch"
if python3 -c "import tensorrt" 2>/dev/null; then BACKENDS="torch tensorrt"; fi
for NETWORK in 320x240 640x480; do
  python3 -m mtl_perception.tools.benchmark --frame-path --device cuda --precision fp16 \
    --backends $BACKENDS --cameras 640x480 1280x720 --network "$NETWORK" --repeats 200 \
    --note "GPU check (benchmarks/gpu_check.sh), network $NETWORK" \
    --write-docs docs/benchmarks.md
done
