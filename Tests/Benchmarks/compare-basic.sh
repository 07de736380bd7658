#!/usr/bin/env bash
# Times the reference 'basic' case (25 frames, 192×128, 6 steps) with svdbatch and with diffusers on the same
# machine in one run, and prints the ratio. Needs a release build and torch/diffusers/transformers from PyPI.
#   bash Tests/Benchmarks/compare-basic.sh [threads]
set -euo pipefail
cd "$(dirname "$0")/../.."
threads=${1:-2}
args=(--model Samples/demo-model --image Tests/Fixtures/cases/basic/input.png --width 192 --height 128 --steps 6)
# Both engines render twice in one process and report the faster run, so neither pays its first-call costs.
best=$(.build/release/svdbatch bench "${args[@]}" --threads "$threads" --repeat 2 | tee /dev/stderr | awk '/^  best/ {print $2}')
theirs=$(python3 Tests/Benchmarks/diffusers_render.py "${args[@]}" --threads "$threads" | tee /dev/stderr | awk '/best/ {print $3}')
echo "svdbatch best: $best s; diffusers best: $theirs s; diffusers time / svdbatch time = $(python3 -c "print(f'{$theirs/$best:.2f}')") (above 1: svdbatch is faster)"
