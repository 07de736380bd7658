#!/usr/bin/env python3
"""Times diffusers' StableVideoDiffusionPipeline on the CPU for one image, the same call `svdbatch bench` times.

Benchmark aid only (needs torch, diffusers, transformers from PyPI; never used by svdbatch or its tests):
    python3 Tests/Benchmarks/diffusers_render.py --model Samples/demo-model \
        --image Tests/Fixtures/cases/basic/input.png --width 192 --height 128 --steps 6 --threads 2
Prints one line per timed run and the best time.
"""
import argparse
import time

import torch
from diffusers import StableVideoDiffusionPipeline
from PIL import Image


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=576)
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--decode-chunk-size", type=int, default=None)
    ap.add_argument("--max-guidance-scale", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    pipe = StableVideoDiffusionPipeline.from_pretrained(args.model, torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    image = Image.open(args.image).convert("RGB")
    times = []
    for run in range(args.runs):
        generator = torch.Generator(device="cpu").manual_seed(args.seed)
        start = time.perf_counter()
        pipe(image, height=args.height, width=args.width, num_frames=args.frames,
             num_inference_steps=args.steps, max_guidance_scale=args.max_guidance_scale,
             decode_chunk_size=args.decode_chunk_size, generator=generator, output_type="np")
        times.append(time.perf_counter() - start)
        print(f"diffusers run {run + 1}: {times[-1]:.3f} s")
    print(f"diffusers best: {min(times):.3f} s ({args.threads} threads, torch {torch.__version__})")


if __name__ == "__main__":
    main()
