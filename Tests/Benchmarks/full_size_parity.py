#!/usr/bin/env python3
"""Renders one clip with diffusers and with svdbatch on the same model folder (for example the random full-size
SVD-XT of make_full_size_model.py, whose 3×3 convolutions are wide enough for svdbatch's Winograd paths, unlike
the demo model's) and compares the uint8 frames: PSNR, largest difference, share of differing values.

Benchmark aid only (needs torch, diffusers, transformers, pillow from PyPI; never used by svdbatch or its tests):
    python3 Tests/Benchmarks/full_size_parity.py /tmp/svd-xt-random --width 256 --height 128 --frames 14 --steps 2
"""
import argparse
import os
import subprocess
import tempfile

import numpy as np
import torch
from PIL import Image


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--image", default="Tests/Fixtures/cases/basic/input.png")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--height", type=int, default=128)
    ap.add_argument("--frames", type=int, default=14)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--binary", default=".build/release/svdbatch")
    args = ap.parse_args()

    from diffusers import StableVideoDiffusionPipeline
    torch.set_num_threads(args.threads)
    variant = None if os.path.exists(os.path.join(args.model, "unet", "diffusion_pytorch_model.safetensors")) else "fp16"
    pipe = StableVideoDiffusionPipeline.from_pretrained(args.model, torch_dtype=torch.float32, variant=variant)
    pipe.set_progress_bar_config(disable=True)
    image = Image.open(args.image).convert("RGB")
    generator = torch.Generator(device="cpu").manual_seed(args.seed)
    frames = pipe(image, height=args.height, width=args.width, num_frames=args.frames, decode_chunk_size=args.frames,
                  num_inference_steps=args.steps, generator=generator, output_type="np").frames[0]
    theirs = (np.clip(frames, 0, 1) * 255).round().astype(np.uint8)

    with tempfile.TemporaryDirectory() as tmp:
        jobs = os.path.join(tmp, "jobs.csv")
        with open(jobs, "w") as f:
            f.write("image,seed,name,width,height,num_frames,num_inference_steps,decode_chunk_size,format\n")
            f.write(f"{os.path.abspath(args.image)},{args.seed},clip,{args.width},{args.height},{args.frames},"
                    f"{args.steps},{args.frames},mkv\n")
        subprocess.run([args.binary, "run", jobs, "--out", os.path.join(tmp, "out"), "--model", args.model,
                        "--save-frames", "--threads", str(args.threads), "--quiet"], check=True)
        folder = os.path.join(tmp, "out", "clip_frames")
        ours = np.stack([np.asarray(Image.open(os.path.join(folder, f"frame_{i:04d}.png")).convert("RGB"))
                         for i in range(args.frames)])
    diff = np.abs(ours.astype(np.int32) - theirs.astype(np.int32))
    mse = float((diff.astype(np.float64) ** 2).mean())
    psnr = float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
    print(f"{args.model}: {args.frames} frames {args.width}×{args.height}, {args.steps} steps, seed {args.seed}")
    print(f"PSNR {psnr:.2f} dB, max difference {diff.max()}, differing values {100 * (diff > 0).mean():.4f} %")


if __name__ == "__main__":
    main()
