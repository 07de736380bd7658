#!/usr/bin/env python3
"""Times one pipeline stage with svdbatch and with diffusers on the same model folder and sizes, each in its own
process (so each has its own peak RSS), one after the other, and prints a table.

Benchmark aid only (needs torch, diffusers, transformers from PyPI; never used by svdbatch or its tests):
    python3 Tests/Benchmarks/side_by_side.py Samples/demo-model --stage unet,decode --width 192 --height 128 --frames 25
    python3 Tests/Benchmarks/side_by_side.py /tmp/svd-xt-random --stage unet --width 256 --height 128 --frames 14

Stages (as `svdbatch bench --stage`): unet = one UNet evaluation on the guidance batch (2 × frames; the
unconditional row has zero image latents and a zero CLIP embedding, as both pipelines build it), decode = the
temporal VAE decoder over `frames` latents in chunks of --decode-chunk-size, encode = the VAE encoder on one image,
clip = the CLIP image encoder. diffusers runs in float32 (weights from the folder's fp16 variant when there are no
fp32 files, as `from_pretrained(..., torch_dtype=torch.float32)` loads them), under torch.inference_mode, with
torch.set_num_threads(--threads). GFLOP/s use the nominal count, the same for both (torch's FlopCounterMode, checked
here on the meta device against svdbatch's count). Keep the machine otherwise idle: the figures are wall-clock, and
torch's OpenMP threads slow down several times over when the cores are oversubscribed (seen here: a 2-thread call 3×
slower than a 1-thread one on a busy 2-core machine). Without the `accelerate` package diffusers loads with
low_cpu_mem_usage=False (initialise, then copy the weights in), which raises torch's peak RSS.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

STAGES = ("unet", "decode", "encode", "clip")
COMPONENT = {"unet": "unet", "decode": "vae", "encode": "vae", "clip": "image_encoder"}


def weight_variant(folder, component):
    """None when fp32 files exist, else "fp16": svdbatch's default choice, which diffusers is told explicitly."""
    names = os.listdir(os.path.join(folder, component))
    plain = [n for n in names if n.endswith(".safetensors") and ".fp16" not in n]
    return None if plain else "fp16"


def peak_rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def torch_stage(args):
    """Worker process: loads only the stage's network with diffusers/transformers, times --repeat calls and prints one
    JSON line."""
    import torch
    from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, UNetSpatioTemporalConditionModel
    from transformers import CLIPVisionModelWithProjection

    torch.set_num_threads(args.threads)
    folder, stage = args.model, args.stage
    variant = weight_variant(folder, COMPONENT[stage])
    load = dict(subfolder=COMPONENT[stage], variant=variant, torch_dtype=torch.float32)
    h, w, frames = args.height // 8, args.width // 8, args.frames
    g = torch.Generator("cpu").manual_seed(args.seed)
    start = time.perf_counter()
    if stage == "unet":
        net = UNetSpatioTemporalConditionModel.from_pretrained(folder, **load)
        scheduler = EulerDiscreteScheduler.from_pretrained(folder, subfolder="scheduler")
        scheduler.set_timesteps(args.steps)
        t = scheduler.timesteps[0]
        embedding = torch.randn(1, 1, net.config.cross_attention_dim, generator=g)
        encoded = torch.randn(1, 4, h, w, generator=g)
        latents = torch.randn(1, frames, 4, h, w, generator=g) * scheduler.init_noise_sigma
        # As the pipeline: zero unconditional rows first, image latents repeated over frames on the channel axis.
        context = torch.cat([torch.zeros_like(embedding), embedding])
        image_latents = torch.cat([torch.zeros_like(encoded), encoded]).unsqueeze(1).repeat(1, frames, 1, 1, 1)
        sample = torch.cat([scheduler.scale_model_input(torch.cat([latents] * 2), t), image_latents], dim=2)
        time_ids = torch.tensor([[6.0, 127.0, 0.02]] * 2)
        call = lambda: net(sample, t, encoder_hidden_states=context, added_time_ids=time_ids, return_dict=False)
    elif stage == "decode":
        net = AutoencoderKLTemporalDecoder.from_pretrained(folder, **load)
        latents = torch.randn(frames, 4, h, w, generator=g)
        chunk = args.decode_chunk_size or frames

        def call():
            z = latents / net.config.scaling_factor
            return [net.decode(z[i:i + chunk], num_frames=z[i:i + chunk].shape[0]).sample
                    for i in range(0, frames, chunk)]
    elif stage == "encode":
        net = AutoencoderKLTemporalDecoder.from_pretrained(folder, **load)
        image = torch.rand(1, 3, args.height, args.width, generator=g) * 2 - 1
        call = lambda: net.encode(image).latent_dist.mode()
    else:
        net = CLIPVisionModelWithProjection.from_pretrained(folder, **load)
        size = net.config.image_size
        pixels = torch.randn(1, 3, size, size, generator=g)
        call = lambda: net(pixel_values=pixels).image_embeds
    net.eval()
    load_seconds = time.perf_counter() - start
    times = []
    with torch.inference_mode():
        for _ in range(args.repeat):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
    print(json.dumps({"load": load_seconds, "times": times, "peak_rss": peak_rss_bytes(),
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


def svdbatch_stage(args):
    """svdbatch bench in its own process; returns best seconds, nominal FLOPs and peak RSS in bytes."""
    cmd = [args.binary, "bench", "--model", args.model, "--stage", args.stage, "--width", str(args.width),
           "--height", str(args.height), "--frames", str(args.frames), "--steps", str(args.steps),
           "--seed", str(args.seed), "--threads", str(args.threads), "--repeat", str(args.repeat)]
    if args.decode_chunk_size:
        cmd += ["--decode-chunk-size", str(args.decode_chunk_size)]
    variant = weight_variant(args.model, COMPONENT[args.stage])
    if variant:
        cmd += ["--variant", variant]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    if args.verbose:
        print(out, file=sys.stderr)

    def field(label, pattern):
        m = re.search(rf"^\s+{label}\s+{pattern}", out, re.M)
        if not m:
            sys.exit(f"side_by_side: no '{label}' line in the output of {' '.join(cmd)}:\n{out}")
        return float(m.group(1))

    return {"best": field("best", r"([0-9.]+) s"), "flops": int(field("operations", r".*\((\d+) FLOPs")),
            "peak_rss": field("peak RSS", r"([0-9.]+) MiB") * 1048576}


def torch_count(args):
    """FlopCounterMode's count on the meta device (no weights, no compute), via flop_counts.py."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import flop_counts
    net = flop_counts.build(args.model, args.stage, "meta").to("meta")
    total, _ = flop_counts.count(net, args.stage, args.width, args.height, args.frames,
                                 args.decode_chunk_size or args.frames)
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--stage", default="unet", help="one or more of unet, decode, encode, clip, comma-separated")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--height", type=int, default=128)
    ap.add_argument("--frames", type=int, default=None, help="default: the UNet config's num_frames")
    ap.add_argument("--steps", type=int, default=25, help="unet: the timestep is the first of this many")
    ap.add_argument("--decode-chunk-size", type=int, default=None, help="default: all frames")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1,
                    help="timed calls per process; the best is reported (2 leaves out first-call warm-up)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--binary", default=".build/release/svdbatch")
    ap.add_argument("--verbose", action="store_true", help="echo svdbatch's own report to stderr")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.frames is None:
        with open(os.path.join(args.model, "unet", "config.json")) as f:
            args.frames = json.load(f).get("num_frames") or 25
    if args.worker:
        return torch_stage(args)

    stages = args.stage.split(",")
    for s in stages:
        if s not in STAGES:
            sys.exit(f"side_by_side: unknown stage '{s}'; choose from {', '.join(STAGES)}")
    rows = []
    for stage in stages:
        args.stage = stage
        ours = svdbatch_stage(args)
        worker = [sys.executable, os.path.abspath(__file__), args.model, "--worker", "--stage", stage,
                  "--width", str(args.width), "--height", str(args.height), "--frames", str(args.frames),
                  "--steps", str(args.steps), "--threads", str(args.threads), "--repeat", str(args.repeat),
                  "--seed", str(args.seed)]
        if args.decode_chunk_size:
            worker += ["--decode-chunk-size", str(args.decode_chunk_size)]
        theirs = json.loads(subprocess.run(worker, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        counted = torch_count(args)
        if counted != ours["flops"]:
            print(f"warning: {stage}: svdbatch counts {ours['flops']} FLOPs, torch's FlopCounterMode {counted}",
                  file=sys.stderr)
        rows.append((stage, ours, theirs, counted))

    print(f"{args.model}: {args.frames} frames {args.width}×{args.height}, {args.threads} threads, "
          f"best of {args.repeat}, torch {rows[0][2]['torch']}")
    header = ("stage", "svdbatch s", "PyTorch s", "PyTorch/ours", "GFLOP", "ours GFLOP/s", "torch GFLOP/s",
              "ours peak RSS", "torch peak RSS")
    table = [header]
    for stage, ours, theirs, flops in rows:
        t_best = min(theirs["times"])
        table.append((stage, f"{ours['best']:.3f}", f"{t_best:.3f}", f"{t_best / ours['best']:.2f}",
                      f"{flops / 1e9:.1f}", f"{flops / 1e9 / ours['best']:.1f}", f"{flops / 1e9 / t_best:.1f}",
                      f"{ours['peak_rss'] / 2**20:.0f} MiB", f"{theirs['peak_rss'] / 2**20:.0f} MiB"))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))


if __name__ == "__main__":
    main()
