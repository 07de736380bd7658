#!/usr/bin/env python3
"""Prints the floating-point operations PyTorch's FlopCounterMode counts for one stage of diffusers' SVD pipeline,
the reference for `svdbatch bench`'s GFLOP figures and for OperationCountTests.

Benchmark aid only (needs torch, diffusers, transformers from PyPI; never used by svdbatch or its tests). The
networks are built from the folder's configs on the meta device: no weights are read and nothing is computed, so
even full-size counts take seconds.
    python3 Tests/Benchmarks/flop_counts.py /tmp/svd-xt-random --stage unet --width 256 --height 128 --frames 14
    python3 Tests/Benchmarks/flop_counts.py Samples/demo-model --stage decode --width 192 --height 128 --frames 25 --by-module
The stage inputs are shaped as the pipeline shapes them: unet is one evaluation on the guidance batch (2 × frames),
decode is the temporal decoder over `frames` latents in chunks of --decode-chunk-size, encode and clip one image.
"""
import argparse
import json
import os

import torch
from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
from torch.utils.flop_counter import FlopCounterMode
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

STAGES = ("unet", "decode", "encode", "clip")


def build(folder, stage, device):
    """The stage's network from the folder's config (random weights), on `device`."""
    with torch.device(device):
        if stage == "unet":
            return UNetSpatioTemporalConditionModel.from_config(UNetSpatioTemporalConditionModel.load_config(os.path.join(folder, "unet")))
        if stage in ("decode", "encode"):
            return AutoencoderKLTemporalDecoder.from_config(AutoencoderKLTemporalDecoder.load_config(os.path.join(folder, "vae")))
        with open(os.path.join(folder, "image_encoder", "config.json")) as f:
            return CLIPVisionModelWithProjection(CLIPVisionConfig(**json.load(f)))


def run_stage(net, stage, width, height, frames, chunk, device="meta"):
    """One call of the stage with pipeline-shaped inputs (values do not matter for the count)."""
    h, w = height // 8, width // 8
    kw = dict(device=device)
    if stage == "unet":
        cfg = net.config
        sample = torch.zeros(2, frames, cfg.in_channels, h, w, **kw)
        context = torch.zeros(2, 1, cfg.cross_attention_dim, **kw)
        time_ids = torch.zeros(2, 3, **kw)
        return net(sample, torch.tensor(1.0, **kw), context, time_ids, return_dict=False)
    if stage == "decode":
        latents = torch.zeros(frames, net.config.latent_channels, h, w, **kw)
        for start in range(0, frames, chunk):
            z = latents[start:start + chunk]
            net.decode(z, num_frames=z.shape[0])
        return None
    if stage == "encode":
        return net.encode(torch.zeros(1, 3, height, width, **kw)).latent_dist.mode()
    size = net.config.vision_config.image_size if hasattr(net.config, "vision_config") else net.config.image_size
    return net(pixel_values=torch.zeros(1, 3, size, size, **kw)).image_embeds


def count(net, stage, width, height, frames, chunk, device="meta"):
    """(total FLOPs, FlopCounterMode) for one stage call."""
    # The default device too: diffusers makes some tensors inside forward (the AlphaBlender's alpha, frame ids).
    with torch.inference_mode(), torch.device(device), FlopCounterMode(display=False) as counter:
        run_stage(net, stage, width, height, frames, chunk, device)
    return counter.get_total_flops(), counter


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--stage", choices=STAGES, required=True)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=576)
    ap.add_argument("--frames", type=int, default=None, help="default: the UNet config's num_frames")
    ap.add_argument("--decode-chunk-size", type=int, default=None, help="default: all frames")
    ap.add_argument("--device", default="meta",
                    help="meta (default: shapes only) or cpu (really runs; to check the two counts agree)")
    ap.add_argument("--by-module", action="store_true", help="also print FlopCounterMode's per-module table")
    args = ap.parse_args()
    frames = args.frames or UNetSpatioTemporalConditionModel.load_config(os.path.join(args.model, "unet"))["num_frames"]
    # A few parameters (AlphaBlender's mix_factor) are made with a legacy constructor that ignores the default device.
    net = build(args.model, args.stage, args.device).to(args.device)
    total, counter = count(net, args.stage, args.width, args.height, frames, args.decode_chunk_size or frames,
                           args.device)
    print(f"{args.stage} {args.width}x{args.height} frames {frames}: {total} FLOPs ({total / 1e9:.3f} GFLOP)")
    if args.by_module:
        print(counter.get_table(depth=4))


if __name__ == "__main__":
    main()
