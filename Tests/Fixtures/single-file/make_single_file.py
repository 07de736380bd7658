#!/usr/bin/env python3
"""Build a Stability-AI-layout Stable Video Diffusion single-file checkpoint from the diffusers demo model.

    python3 Tests/Fixtures/single-file/make_single_file.py
    python3 Tests/Fixtures/single-file/make_single_file.py --model /tmp/svd-xt-random --out /tmp/svd_xt.safetensors

The second form converts any diffusers SVD folder. svd_xt-tensor-shapes.json (tensor name -> shape, the header of
a full-size SVD-XT file) was written from its output for a full-size random-weight model made by
Tests/Benchmarks/make_full_size_model.py.

Reads  Samples/demo-model/{unet,vae,image_encoder}  (diffusers / transformers names)
Writes demo-svd-xt.fp16.safetensors (all F16, as the demo's weights are) next to this script (and checks an F32 copy in a
temporary folder), laid out
like the published svd.safetensors / svd_xt.safetensors / svd_xt_1_1.safetensors.

AUTHORITY -- the key layout is the state_dict of generative-models' DiffusionEngine built from svd_xt.yaml:
  https://github.com/Stability-AI/generative-models/blob/main/scripts/sampling/configs/svd_xt.yaml
  .../sgm/models/diffusion.py        model.diffusion_model / conditioner / first_stage_model / denoiser
  .../sgm/modules/diffusionmodules/video_model.py   VideoUNet, VideoResBlock (time_stack, time_mixer)
  .../sgm/modules/video_attention.py                SpatialVideoTransformer (time_stack, time_pos_embed, time_mixer)
  .../sgm/modules/autoencoding/temporal_ae.py       VideoResBlock.mix_factor, AE3DConv.time_mix_conv
  .../sgm/models/autoencoder.py   AutoencodingEngine (no quant_conv) vs AutoencoderKLModeOnly (quant_conv, decoder)
  .../sgm/modules/encoders/modules.py  FrozenOpenCLIPImagePredictionEmbedder.open_clip.model (`del model.transformer`)
  https://github.com/comfyanonymous/ComfyUI/blob/master/comfy/supported_models.py  SVD_img2vid.clip_vision_prefix
The back-conversion used as proof is diffusers' own reversible conversion code, copied verbatim at the end of this
file (Apache License 2.0, Copyright 2026 The HuggingFace Team):
  https://github.com/huggingface/diffusers/tree/main/src/diffusers/loaders/conversion
  (core.py, transforms.py, ldm_unet.py, svd.py, ldm_vae.py, svd_vae.py, clip_vision.py)
diffusers' older scripts/convert_svd_to_diffusers.py is not used: its VAE converter reads `decoder.time_mix_conv`
(sgm's key is `decoder.conv_out.time_mix_conv`) and renames temporal resnets to `temporal_res_block.spatial_res_block.*`.

NON-CIRCULARITY -- the forward direction (`*_to_stability`) is written here from the sgm module names only.  The
check reloads the written file, selects each network's keys, runs the upstream `Conversion.to_diffusers` (only the
original->diffusers direction was copied; `to_original` and the inverse transforms are left out on purpose) and
asserts every tensor is bit-identical to the demo tensor cast to the file dtype.  If open_clip is importable, its own
VisionTransformer / CLIP state_dict names and shapes are compared with the image tower and the text leftovers.

ADAPTATIONS of the upstream code: docstrings dropped; `ldm_unet_conversion` keeps only its final `return` (the
K-upscaler/IF/GLIGEN/Versatile/unCLIP dispatch does not apply); `clip_vision_conversion` needs `_class_name` and
`original_format`, which diffusers' registry supplies and which we pass explicitly.  Nothing in these definitions
hard-codes SVD sizes (widths come from the config), so no size had to be changed.

EXTRA KEYS (present in the real files, must be ignored by the engine) get deterministic filler values that differ
from every consumed tensor: first_stage_model.encoder.* (sgm AutoencodingEngine has an encoder; diffusers takes the
encoder + quant_conv from conditioner.embedders.3), conditioner.embedders.3.encoder.{decoder.*,post_quant_conv.*}
(AutoencoderKLModeOnly is a full AutoencoderKL) and the OpenCLIP text leftovers kept after `del model.transformer`
(token_embedding with a 64-entry vocabulary instead of 49408 to keep the fixture small).  No `denoiser.*` keys:
svd_xt.yaml uses `Denoiser` + `VScalingWithEDMcNoise`, which own no tensors.  No safetensors `__metadata__` is written.
"""
import argparse
import json
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from types import MappingProxyType
from typing import Protocol
import re
import tempfile

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

HERE = Path(__file__).resolve().parent
DEMO = HERE.parents[2] / "Samples" / "demo-model"
UNET = "model.diffusion_model."
VAE_ENC = "conditioner.embedders.3.encoder."  # AutoencoderKLModeOnly: .encoder.*, .quant_conv.*  (+ extras)
VAE_DEC = "first_stage_model."                 # AutoencodingEngine:    .decoder.*                 (+ extra .encoder.*)
CLIP_MODEL = "conditioner.embedders.0.open_clip.model."
CLIP = CLIP_MODEL + "visual."


# ----------------------------------------------------------------------------------------------------------------
# Forward direction, diffusers -> Stability names (independent of the upstream code at the end of the file)
# ----------------------------------------------------------------------------------------------------------------
def _sub(key, table):
    for pattern, replacement in table:
        key = re.sub(pattern, replacement, key)
    return key


def unet_block_prefixes(cfg):
    """diffusers module prefix -> sgm VideoUNet prefix (input_blocks/middle_block/output_blocks numbering)."""
    n, layers = len(cfg["block_out_channels"]), cfg["layers_per_block"]
    table = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
             "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2",
             "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2",
             "mid_block.resnets.0": "middle_block.0", "mid_block.attentions.0": "middle_block.1",
             "mid_block.resnets.1": "middle_block.2"}
    idx = 1
    for i in range(n):
        for j in range(layers):
            table[f"down_blocks.{i}.resnets.{j}"] = f"input_blocks.{idx}.0"
            table[f"down_blocks.{i}.attentions.{j}"] = f"input_blocks.{idx}.1"
            idx += 1
        if i < n - 1:
            table[f"down_blocks.{i}.downsamplers.0.conv"] = f"input_blocks.{idx}.0.op"
            idx += 1
    idx = 0
    for i in range(n):
        has_attention = cfg["up_block_types"][i].startswith("CrossAttn")
        for j in range(layers + 1):
            table[f"up_blocks.{i}.resnets.{j}"] = f"output_blocks.{idx}.0"
            table[f"up_blocks.{i}.attentions.{j}"] = f"output_blocks.{idx}.1"
            if j == layers and i < n - 1:
                table[f"up_blocks.{i}.upsamplers.0.conv"] = f"output_blocks.{idx}.{2 if has_attention else 1}.conv"
            idx += 1
    return table


RESBLOCK = [(r"^spatial_res_block\.", ""), (r"^temporal_res_block\.", "time_stack."),  # VideoResBlock / ResBlock
            (r"(^|\.)norm1\.", r"\1in_layers.0."), (r"(^|\.)conv1\.", r"\1in_layers.2."),
            (r"(^|\.)time_emb_proj\.", r"\1emb_layers.1."), (r"(^|\.)norm2\.", r"\1out_layers.0."),
            (r"(^|\.)conv2\.", r"\1out_layers.3."), (r"^conv_shortcut\.", "skip_connection.")]
VIDEO_TRANSFORMER = [(r"^temporal_transformer_blocks\.", "time_stack."),              # SpatialVideoTransformer
                     (r"^time_pos_embed\.linear_1\.", "time_pos_embed.0."), (r"^time_pos_embed\.linear_2\.", "time_pos_embed.2.")]


def unet_to_stability(sd, cfg):
    table, out = unet_block_prefixes(cfg), {}
    for key, tensor in sd.items():
        head = max((h for h in table if key.startswith(h + ".")), key=len)
        inner = key[len(head) + 1:]
        if ".resnets." in head:
            inner = _sub(inner, RESBLOCK)
        elif ".attentions." in head:
            inner = _sub(inner, VIDEO_TRANSFORMER)
        out[UNET + table[head] + "." + inner] = tensor
    return out


def vae_to_stability(sd, cfg):
    """Encoder + quant_conv -> conditioner.embedders.3.encoder.*, temporal decoder -> first_stage_model.decoder.*"""
    n, out = len(cfg["block_out_channels"]), {}
    for key, tensor in sd.items():
        k = re.sub(r"mid_block\.resnets\.(\d+)\.", lambda m: f"mid.block_{int(m[1]) + 1}.", key)
        k = k.replace("mid_block.attentions.0.", "mid.attn_1.").replace("conv_norm_out.", "norm_out.")
        k = re.sub(r"down_blocks\.(\d+)\.downsamplers\.0\.", r"down.\1.downsample.", k)
        k = re.sub(r"down_blocks\.(\d+)\.resnets\.", r"down.\1.block.", k)
        k = re.sub(r"up_blocks\.(\d+)\.", lambda m: f"up.{n - 1 - int(m[1])}.", k)  # sgm counts up-levels upwards
        k = k.replace(".upsamplers.0.", ".upsample.").replace(".resnets.", ".block.")
        k = k.replace("spatial_res_block.", "").replace("conv_shortcut.", "nin_shortcut.")
        k = k.replace("time_mixer.mix_factor", "mix_factor")
        k = k.replace("decoder.time_conv_out.", "decoder.conv_out.time_mix_conv.")
        k = _sub(k, [(r"temporal_res_block\.norm1\.", "time_stack.in_layers.0."),
                     (r"temporal_res_block\.conv1\.", "time_stack.in_layers.2."),
                     (r"temporal_res_block\.norm2\.", "time_stack.out_layers.0."),
                     (r"temporal_res_block\.conv2\.", "time_stack.out_layers.3.")])
        if ".mid.attn_1." in k:  # sgm AttnBlock: norm, q, k, v, proj_out are Conv2d 1x1
            k = _sub(k, [(r"group_norm\.", "norm."), (r"to_q\.", "q."), (r"to_k\.", "k."), (r"to_v\.", "v."),
                         (r"to_out\.0\.", "proj_out.")])
            tensor = tensor.reshape(*tensor.shape, 1, 1) if tensor.ndim == 2 else tensor
        out[(VAE_DEC if k.startswith("decoder.") else VAE_ENC) + k] = tensor
    return out


def clip_to_stability(sd, cfg):
    """CLIPVisionModelWithProjection -> open_clip VisionTransformer (fused in_proj, proj = visual_projection.T)."""
    fixed = {"vision_model.embeddings.class_embedding": "class_embedding",
             "vision_model.embeddings.patch_embedding.weight": "conv1.weight",
             "vision_model.embeddings.position_embedding.weight": "positional_embedding"}
    out = {CLIP + "proj": sd["visual_projection.weight"].t().contiguous()}
    for key, tensor in sd.items():
        if key in fixed:
            out[CLIP + fixed[key]] = tensor
        elif key.startswith("vision_model.") and not re.search(r"self_attn\.[qkv]_proj\.", key):
            k = key.replace("vision_model.pre_layrnorm.", "ln_pre.").replace("vision_model.post_layernorm.", "ln_post.")
            k = _sub(re.sub(r"vision_model\.encoder\.layers\.(\d+)\.", r"transformer.resblocks.\1.", k),
                     [(r"layer_norm1\.", "ln_1."), (r"layer_norm2\.", "ln_2."), (r"mlp\.fc1\.", "mlp.c_fc."),
                      (r"mlp\.fc2\.", "mlp.c_proj."), (r"self_attn\.out_proj\.", "attn.out_proj.")])
            out[CLIP + k] = tensor
    for i in range(cfg["num_hidden_layers"]):
        for p in ("weight", "bias"):  # nn.MultiheadAttention packs [q; k; v] along dim 0
            parts = [sd[f"vision_model.encoder.layers.{i}.self_attn.{x}_proj.{p}"] for x in "qkv"]
            out[f"{CLIP}transformer.resblocks.{i}.attn.in_proj_{p}"] = torch.cat(parts, 0)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Keys the real files carry that the engine must ignore
# ----------------------------------------------------------------------------------------------------------------
def filler(key, shape):
    """Deterministic, exactly representable in fp16, different for every key."""
    salt = zlib.crc32(key.encode()) % 17
    values = (torch.arange(prod(shape), dtype=torch.int64) * 7 + salt) % 17 - 8
    return (values.to(torch.float32) / 64).reshape(shape)


def extra_keys(vae_stability, clip_cfg):
    shapes = {}
    for key, tensor in vae_stability.items():
        if key.startswith(VAE_ENC + "encoder."):  # sgm AutoencodingEngine also owns an encoder
            shapes[VAE_DEC + key[len(VAE_ENC):]] = tuple(tensor.shape)
        if key.startswith(VAE_DEC + "decoder.") and not re.search(r"time_stack|mix_factor|time_mix_conv", key):
            shapes[VAE_ENC + key[len(VAE_DEC):]] = tuple(tensor.shape)  # AutoencoderKLModeOnly's 2D Decoder
    latent = vae_stability[VAE_ENC + "quant_conv.weight"].shape[0] // 2
    shapes[VAE_ENC + "post_quant_conv.weight"], shapes[VAE_ENC + "post_quant_conv.bias"] = (latent, latent, 1, 1), (latent,)
    width, embed = clip_cfg["hidden_size"], clip_cfg["projection_dim"]  # open_clip CLIP minus `transformer`
    shapes.update({CLIP_MODEL + "token_embedding.weight": (64, width), CLIP_MODEL + "positional_embedding": (77, width),
                   CLIP_MODEL + "ln_final.weight": (width,), CLIP_MODEL + "ln_final.bias": (width,),
                   CLIP_MODEL + "text_projection": (width, embed), CLIP_MODEL + "logit_scale": ()})
    out = {key: filler(key, shape) for key, shape in shapes.items()}
    out[CLIP_MODEL + "logit_scale"] = torch.tensor(math.log(1 / 0.07))  # open_clip's init value, 0-dim
    return out


def is_consumed(key):
    """The engine rule: which Stability keys feed UNet / AutoencoderKLTemporalDecoder / CLIPVisionModelWithProjection."""
    return key.startswith((UNET, CLIP, VAE_ENC + "encoder.", VAE_ENC + "quant_conv.", VAE_DEC + "decoder."))


# ----------------------------------------------------------------------------------------------------------------
# Build, write, verify
# ----------------------------------------------------------------------------------------------------------------
def load_demo(folder=DEMO):
    """A diffusers folder's configs and weights (plain files, else the fp16 variant)."""
    def weights(name, base):
        plain = folder / name / f"{base}.safetensors"
        return load_file(plain if plain.exists() else folder / name / f"{base}.fp16.safetensors")
    cfg = {name: json.loads((folder / name / "config.json").read_text()) for name in ("unet", "vae", "image_encoder")}
    sd = {"unet": weights("unet", "diffusion_pytorch_model"), "vae": weights("vae", "diffusion_pytorch_model"),
          "image_encoder": weights("image_encoder", "model")}
    return cfg, sd


def build(cfg, sd):
    vae = vae_to_stability(sd["vae"], cfg["vae"])
    parts = [unet_to_stability(sd["unet"], cfg["unet"]), vae, clip_to_stability(sd["image_encoder"], cfg["image_encoder"]),
             extra_keys(vae, cfg["image_encoder"])]
    merged = {}
    for part in parts:
        assert not merged.keys() & part.keys(), "key collision"
        merged.update(part)
    return {key: merged[key] for key in sorted(merged)}


def bits(tensor):
    return tensor.contiguous().view({2: torch.int16, 4: torch.int32}[tensor.element_size()])


def assert_same(name, back, original, dtype):
    assert back.keys() == original.keys(), f"{name}: key sets differ: {sorted(back.keys() ^ original.keys())[:8]}"
    for key, tensor in original.items():
        want = tensor.to(dtype)
        got = back[key]
        assert got.dtype == dtype and got.shape == want.shape and torch.equal(bits(got), bits(want)), f"{name}: {key}"
    print(f"  {name}: {len(original)} tensors bit-identical to the demo model ({dtype})")


def check_open_clip(written, clip_cfg):
    try:
        import open_clip
        from open_clip.transformer import VisionTransformer
    except ImportError:
        print("  NOTE: open_clip is not importable; skipped the open_clip key-name check")
        return
    c = clip_cfg
    tower = VisionTransformer(image_size=c["image_size"], patch_size=c["patch_size"], width=c["hidden_size"],
                              layers=c["num_hidden_layers"], heads=c["num_attention_heads"],
                              mlp_ratio=c["intermediate_size"] / c["hidden_size"], output_dim=c["projection_dim"])
    expected = {key: tuple(t.shape) for key, t in tower.state_dict().items()}
    actual = {key[len(CLIP):]: tuple(t.shape) for key, t in written.items() if key.startswith(CLIP)}
    assert expected == actual, sorted(expected.items() ^ actual.items())[:8]
    model = open_clip.model.CLIP(embed_dim=c["projection_dim"],
                                 vision_cfg=dict(width=c["hidden_size"], layers=1, head_width=c["hidden_size"] // c["num_attention_heads"],
                                                 patch_size=c["patch_size"], image_size=c["image_size"]),
                                 text_cfg=dict(context_length=77, vocab_size=64, width=c["hidden_size"],
                                               heads=c["num_attention_heads"], layers=1))
    del model.transformer  # as sgm FrozenOpenCLIPImageEmbedder does
    leftovers = {key: tuple(t.shape) for key, t in model.state_dict().items() if not key.startswith("visual.")}
    actual = {key[len(CLIP_MODEL):]: tuple(t.shape) for key, t in written.items()
              if key.startswith(CLIP_MODEL) and not key.startswith(CLIP)}
    assert leftovers == actual, (leftovers, actual)
    print(f"  open_clip {open_clip.__version__}: VisionTransformer keys/shapes ({len(expected)}) and CLIP text "
          f"leftovers ({len(leftovers)}) match")


def verify(path, dtype, cfg, sd):
    written = load_file(path)
    with safe_open(path, framework="pt") as f:
        assert not f.metadata(), "no __metadata__ expected"
    assert all(t.dtype == dtype for t in written.values())

    def select(prefix):
        return {key[len(prefix):]: t for key, t in written.items() if key.startswith(prefix)}

    vae_part = {key: t for key, t in written.items() if key.startswith((VAE_ENC, VAE_DEC)) and is_consumed(key)}
    clip_cfg = dict(cfg["image_encoder"], _class_name="CLIPVisionModelWithProjection", original_format="openclip")
    assert_same("unet", svd_conversion(cfg["unet"]).to_diffusers(select(UNET)), sd["unet"], dtype)
    assert_same("vae", svd_vae_conversion(cfg["vae"]).to_diffusers(vae_part), sd["vae"], dtype)
    assert_same("image_encoder", clip_vision_conversion(clip_cfg).to_diffusers(select(CLIP)), sd["image_encoder"], dtype)
    check_open_clip(written, cfg["image_encoder"])
    ignored = sorted(key for key in written if not is_consumed(key))
    groups = sorted({".".join(k.split(".")[:4]) if k.startswith("conditioner") else ".".join(k.split(".")[:2]) for k in ignored})
    print(f"  ignored by the engine: {len(ignored)} tensors in {groups}")


def main():
    parser = argparse.ArgumentParser(description="Writes the demo fixture; with --model and --out, converts any "
                                     "diffusers SVD folder (e.g. a full-size one for benchmarks) instead.")
    parser.add_argument("--model", type=Path, help="a diffusers SVD folder (default: the demo model)")
    parser.add_argument("--out", type=Path, help="the single file to write (with --model)")
    parser.add_argument("--dtype", choices=("fp16", "fp32"), default="fp16")
    args = parser.parse_args()
    if args.model:
        cfg, sd = load_demo(args.model)
        dtype = torch.float16 if args.dtype == "fp16" else torch.float32
        save_file({key: t.to(dtype).contiguous() for key, t in build(cfg, sd).items()}, str(args.out))
        print(f"wrote {args.out}: {args.out.stat().st_size} bytes")
        verify(args.out, dtype, cfg, sd)
        return
    cfg, sd = load_demo()
    stability = build(cfg, sd)
    # Only the F16 file is kept: the demo's weights are F16, so the F32 layout differs only in dtype (the Swift test
    # writes its own F32 copy). The F32 file is still written and checked here, in a temporary folder.
    scratch = Path(tempfile.mkdtemp())
    for path, dtype in ((scratch / "demo-svd-xt.safetensors", torch.float32), (HERE / "demo-svd-xt.fp16.safetensors", torch.float16)):
        save_file({key: t.to(dtype).contiguous().clone() for key, t in stability.items()}, str(path))
        data = sum(t.numel() * t.element_size() for t in load_file(path).values())
        print(f"wrote {path}: {len(stability)} tensors, "
              f"{data} data bytes, {path.stat().st_size} file bytes")
        verify(path, dtype, cfg, sd)
    print("OK")


# ================================================================================================================
# Upstream code, copied verbatim (Apache License 2.0, Copyright 2026 The HuggingFace Team; http://www.apache.org/licenses/LICENSE-2.0)
# from https://github.com/huggingface/diffusers/tree/main/src/diffusers/loaders/conversion -- only the
# original -> diffusers direction, docstrings dropped.  Do not edit; it is the independent side of the check.
# ================================================================================================================
# ---- verbatim: transforms.py (subset: Transform, Identity and the forward() of Split, Reshape, Permute)
class Transform(Protocol):
    def forward(self, tensors: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]: ...

    def inverse(self, tensors: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]: ...


@dataclass(frozen=True)
class Identity:
    def forward(self, tensors: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        return tensors

    def inverse(self, tensors: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        return tensors


@dataclass(frozen=True)
class Split:
    sizes: tuple[int, ...]
    dim: int = 0

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(self.sizes))
        if not self.sizes or any(size <= 0 for size in self.sizes):
            raise ValueError("Split sizes must be positive.")

    def forward(self, tensors: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        if len(tensors) != 1:
            raise ValueError(f"Split expects one tensor, got {len(tensors)}.")
        (tensor,) = tensors
        if not -tensor.ndim <= self.dim < tensor.ndim:
            raise ValueError(f"Invalid split dimension {self.dim} for shape {tuple(tensor.shape)}.")
        if tensor.shape[self.dim] != sum(self.sizes):
            raise ValueError(f"Split sizes {self.sizes} do not match dimension {self.dim} of {tuple(tensor.shape)}.")
        return tensor.split(self.sizes, dim=self.dim)


@dataclass(frozen=True)
class Reshape:
    original_shape: tuple[int, ...]
    diffusers_shape: tuple[int, ...]

    def __post_init__(self):
        object.__setattr__(self, "original_shape", tuple(self.original_shape))
        object.__setattr__(self, "diffusers_shape", tuple(self.diffusers_shape))
        if any(size < 0 for size in self.original_shape + self.diffusers_shape):
            raise ValueError("Reshape requires explicit, nonnegative dimensions.")
        if prod(self.original_shape) != prod(self.diffusers_shape):
            raise ValueError("Reshape must preserve the number of elements.")

    def forward(self, tensors):
        (tensor,) = tensors
        if tuple(tensor.shape) != self.original_shape:
            raise ValueError(f"Expected shape {self.original_shape}, got {tuple(tensor.shape)}.")
        return (tensor.reshape(self.diffusers_shape),)


@dataclass(frozen=True)
class Permute:
    dims: tuple[int, ...]

    def __post_init__(self):
        object.__setattr__(self, "dims", tuple(self.dims))
        if sorted(self.dims) != list(range(len(self.dims))):
            raise ValueError("Axes must be a permutation of consecutive indices starting at zero.")

    def forward(self, tensors):
        (tensor,) = tensors
        if tensor.ndim != len(self.dims):
            raise ValueError(f"Expected rank {len(self.dims)}, got {tensor.ndim}.")
        return (tensor.permute(self.dims),)


# ---- verbatim: core.py (to_original omitted; docstrings dropped)
@dataclass(frozen=True)
class Rule:
    original: tuple[str, ...]
    diffusers: tuple[str, ...]
    transform: Transform = field(default_factory=Identity)

    def __post_init__(self):
        for name in ("original", "diffusers"):
            keys = getattr(self, name)
            if isinstance(keys, str) or not keys:
                raise ValueError(f"Rule.{name} must be a nonempty sequence of keys, not a string.")
            keys = tuple(keys)
            object.__setattr__(self, name, keys)
            if not keys or any(not isinstance(key, str) or not key for key in keys):
                raise ValueError(f"Rule.{name} keys must be nonempty strings.")
            if len(set(keys)) != len(keys):
                raise ValueError(f"Repeated {name} key in rule: {keys}.")


@dataclass(frozen=True)
class Conversion:
    mapping: Mapping[str, str] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    original_keys: frozenset[str] = field(init=False)
    diffusers_keys: frozenset[str] = field(init=False)
    _rules: tuple[Rule, ...] = field(init=False, repr=False)
    lossless: bool = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "mapping", MappingProxyType(dict(self.mapping)))
        object.__setattr__(self, "rules", tuple(self.rules))
        rules = tuple(Rule((old,), (new,)) for old, new in self.mapping.items()) + self.rules
        original_keys, diffusers_keys = set(), set()
        for rule in rules:
            repeated_inputs = original_keys.intersection(rule.original)
            repeated_outputs = diffusers_keys.intersection(rule.diffusers)
            if repeated_inputs or repeated_outputs:
                raise ValueError(
                    f"Conversion keys must be unique: repeated original keys {sorted(repeated_inputs)}, "
                    f"repeated Diffusers keys {sorted(repeated_outputs)}."
                )
            original_keys.update(rule.original)
            diffusers_keys.update(rule.diffusers)
        object.__setattr__(self, "original_keys", frozenset(original_keys))
        object.__setattr__(self, "diffusers_keys", frozenset(diffusers_keys))
        object.__setattr__(self, "_rules", rules)
        object.__setattr__(self, "lossless", all(getattr(rule.transform, "lossless", True) for rule in rules))

    def to_diffusers(self, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self._convert(state_dict, reverse=False)

    def _convert(self, state_dict: Mapping[str, torch.Tensor], reverse: bool) -> dict[str, torch.Tensor]:
        return dict(self.iter_converted(state_dict, reverse=reverse))

    def iter_converted(self, state_dict: Mapping[str, torch.Tensor], *, reverse: bool = False):
        source_keys = self.diffusers_keys if reverse else self.original_keys
        missing = sorted(source_keys - state_dict.keys())
        unexpected = sorted(state_dict.keys() - source_keys)
        direction = "Diffusers -> original" if reverse else "original -> Diffusers"
        if missing or unexpected:
            raise ValueError(f"Cannot convert {direction}: missing keys {missing}; unexpected keys {unexpected}.")

        for rule in self._rules:
            source = rule.diffusers if reverse else rule.original
            target = rule.original if reverse else rule.diffusers
            transform = rule.transform.inverse if reverse else rule.transform.forward
            try:
                tensors = tuple(state_dict[key] for key in source)
                if any(not isinstance(tensor, torch.Tensor) for tensor in tensors):
                    raise ValueError("Every converted parameter must be a tensor.")
                outputs = transform(tensors)
                if len(outputs) != len(target):
                    raise ValueError(f"Expected {len(target)} output tensors, got {len(outputs)}.")
            except (ValueError, RuntimeError) as error:
                raise ValueError(f"Failed to convert {direction}, {source} -> {target}: {error}") from error
            yield from zip(target, outputs)


# ---- verbatim: ldm_unet.py (_ldm_unet_mapping;
#      ldm_unet_conversion reduced to its final line: the K-upscaler/IF/GLIGEN/versatile/unCLIP dispatch is not SVD)
def ldm_unet_conversion(config):
    return Conversion(mapping=_ldm_unet_mapping(config, controlnet=False))


def _ldm_unet_mapping(config, controlnet):
    modules = [
        ("time_embed.0", "time_embedding.linear_1"),
        ("time_embed.2", "time_embedding.linear_2"),
        ("input_blocks.0.0", "conv_in"),
    ]
    mapping, resnets, attentions = {}, [], []
    channels = config["block_out_channels"]
    count = len(channels)
    layers = config["layers_per_block"]
    layers = [layers] * count if isinstance(layers, int) else layers
    depths = config["transformer_layers_per_block"]
    depths = [depths] * count if isinstance(depths, int) else depths
    if config.get("class_embed_type") in ("timestep", "projection"):
        modules.extend([("label_emb.0.0", "class_embedding.linear_1"), ("label_emb.0.2", "class_embedding.linear_2")])
    elif config.get("class_embed_type") == "simple_projection":
        modules.append(("film_emb", "class_embedding"))
    elif config.get("num_class_embeds") is not None:
        mapping["label_emb.weight"] = "class_embedding.weight"
    if config.get("addition_embed_type") == "text_time":
        modules.extend([("label_emb.0.0", "add_embedding.linear_1"), ("label_emb.0.2", "add_embedding.linear_2")])
    idx, previous = 1, channels[0]
    for i, channel in enumerate(channels):
        for j in range(layers[i]):
            resnets.append((f"input_blocks.{idx}.0", f"down_blocks.{i}.resnets.{j}", previous != channel))
            previous = channel
            if config["down_block_types"][i] == "CrossAttnDownBlock2D":
                depth = depths[i][j] if isinstance(depths[i], (list, tuple)) else depths[i]
                attentions.append((f"input_blocks.{idx}.1", f"down_blocks.{i}.attentions.{j}", depth))
            idx += 1
        if i < count - 1:
            modules.append((f"input_blocks.{idx}.0.op", f"down_blocks.{i}.downsamplers.0.conv"))
            idx += 1
    if config.get("mid_block_type", "UNetMidBlock2DCrossAttn") is not None:
        resnets.extend((f"middle_block.{i * 2}", f"mid_block.resnets.{i}", False) for i in range(2))
        depth = depths[-1][-1] if isinstance(depths[-1], (list, tuple)) else depths[-1]
        attentions.append(("middle_block.1", "mid_block.attentions.0", depth))
    if controlnet:
        modules.extend((f"zero_convs.{i}.0", f"controlnet_down_blocks.{i}") for i in range(idx))
        modules.append(("middle_block_out.0", "controlnet_mid_block"))
        cond_layers = 2 * (len(config["conditioning_embedding_out_channels"]) - 1)
        modules.append(("input_hint_block.0", "controlnet_cond_embedding.conv_in"))
        modules.extend(
            (f"input_hint_block.{2 * (i + 1)}", f"controlnet_cond_embedding.blocks.{i}") for i in range(cond_layers)
        )
        modules.append((f"input_hint_block.{2 * (cond_layers + 1)}", "controlnet_cond_embedding.conv_out"))
    else:
        modules.extend([("out.0", "conv_norm_out"), ("out.2", "conv_out")])
        up_channels = list(reversed(channels))
        up_layers = list(reversed(layers))
        up_depths = config.get("reverse_transformer_layers_per_block") or list(reversed(depths))
        previous, idx = up_channels[0], 0
        for i, channel in enumerate(up_channels):
            input_channel = up_channels[min(i + 1, count - 1)]
            attention = config["up_block_types"][i] == "CrossAttnUpBlock2D"
            for j in range(up_layers[i] + 1):
                skip_channel = input_channel if j == up_layers[i] else channel
                resnets.append(
                    (f"output_blocks.{idx}.0", f"up_blocks.{i}.resnets.{j}", previous + skip_channel != channel)
                )
                previous = channel
                if attention:
                    depth = up_depths[i][j] if isinstance(up_depths[i], (list, tuple)) else up_depths[i]
                    attentions.append((f"output_blocks.{idx}.1", f"up_blocks.{i}.attentions.{j}", depth))
                if j == up_layers[i] and i < count - 1:
                    modules.append(
                        (f"output_blocks.{idx}.{2 if attention else 1}.conv", f"up_blocks.{i}.upsamplers.0.conv")
                    )
                idx += 1
    for old, new, shortcut in resnets:
        pairs = [
            ("in_layers.0", "norm1"),
            ("in_layers.2", "conv1"),
            ("out_layers.0", "norm2"),
            ("out_layers.3", "conv2"),
            ("emb_layers.1", "time_emb_proj"),
        ]
        if shortcut:
            pairs.append(("skip_connection", "conv_shortcut"))
        modules.extend((f"{old}.{a}", f"{new}.{b}") for a, b in pairs)
    for old, new, depth in attentions:
        modules.extend((f"{old}.{name}", f"{new}.{name}") for name in ("norm", "proj_in", "proj_out"))
        for i in range(depth):
            a, b = f"{old}.transformer_blocks.{i}", f"{new}.transformer_blocks.{i}"
            modules.extend(
                (f"{a}.{name}", f"{b}.{name}")
                for name in (
                    "norm1",
                    "norm2",
                    "norm3",
                    "ff.net.0.proj",
                    "ff.net.2",
                    "attn1.to_out.0",
                    "attn2.to_out.0",
                )
            )
            mapping.update(
                {
                    f"{a}.{attn}.to_{part}.weight": f"{b}.{attn}.to_{part}.weight"
                    for attn in ("attn1", "attn2")
                    for part in ("q", "k", "v")
                }
            )
    mapping.update({f"{old}.{p}": f"{new}.{p}" for old, new in modules for p in ("weight", "bias")})
    return mapping


# ---- verbatim: svd.py
def svd_conversion(config):
    spatial_config = {
        **config,
        "down_block_types": [name.replace("SpatioTemporal", "2D") for name in config["down_block_types"]],
        "up_block_types": [name.replace("SpatioTemporal", "2D") for name in config["up_block_types"]],
        "addition_embed_type": "text_time",
    }
    base = ldm_unet_conversion(spatial_config)
    mapping, resnets, attention_prefixes = {}, [], set()
    for old, new in base.mapping.items():
        if ".resnets." in new:
            prefix, rest = new.split(".resnets.")
            index, suffix = rest.split(".", 1)
            parent = f"{prefix}.resnets.{index}"
            mapping[old] = parent + ".spatial_res_block." + suffix
            if suffix == "norm1.weight":
                resnets.append((old.removesuffix(".in_layers.0.weight"), parent))
        else:
            mapping[old] = new
        if ".attentions." in new and ".transformer_blocks." in new:
            mapping[old.replace(".transformer_blocks.", ".time_stack.")] = new.replace(
                ".transformer_blocks.", ".temporal_transformer_blocks."
            )
        if ".attentions." in new and new.endswith(".proj_in.bias"):
            attention_prefixes.add((old.removesuffix(".proj_in.bias"), new.removesuffix(".proj_in.bias")))
    for old, new in resnets:
        mapping[old + ".time_mixer.mix_factor"] = new + ".time_mixer.mix_factor"
        for a, b in (
            ("in_layers.0", "norm1"),
            ("in_layers.2", "conv1"),
            ("out_layers.0", "norm2"),
            ("out_layers.3", "conv2"),
            ("emb_layers.1", "time_emb_proj"),
        ):
            mapping.update(
                {f"{old}.time_stack.{a}.{p}": f"{new}.temporal_res_block.{b}.{p}" for p in ("weight", "bias")}
            )
    for old, new in sorted(attention_prefixes):
        mapping[old + ".time_mixer.mix_factor"] = new + ".time_mixer.mix_factor"
        for i, j in ((0, 1), (2, 2)):
            mapping.update(
                {f"{old}.time_pos_embed.{i}.{p}": f"{new}.time_pos_embed.linear_{j}.{p}" for p in ("weight", "bias")}
            )
        indices = {
            int(key.removeprefix(new + ".transformer_blocks.").split(".")[0])
            for key in base.diffusers_keys
            if key.startswith(new + ".transformer_blocks.")
        }
        for i in sorted(indices):
            mapping.update(
                {
                    f"{old}.time_stack.{i}.{name}.{p}": f"{new}.temporal_transformer_blocks.{i}.{name}.{p}"
                    for name in ("norm_in", "ff_in.net.0.proj", "ff_in.net.2")
                    for p in ("weight", "bias")
                }
            )
    return Conversion(mapping=mapping)


# ---- verbatim: ldm_vae.py
def ldm_vae_conversion(config):
    modules, resnets, rules, attentions = [], [], [], []
    channels = config["block_out_channels"]
    layers = config["layers_per_block"]
    for name in ("quant_conv", "post_quant_conv"):
        if config.get("use_" + name, True):
            modules.append((name, name))
    for component in ("encoder", "decoder"):
        modules.extend(
            (f"{component}.{old}", f"{component}.{new}")
            for old, new in (("conv_in", "conv_in"), ("conv_out", "conv_out"), ("norm_out", "conv_norm_out"))
        )
        resnets.extend(
            (f"{component}.mid.block_{i + 1}", f"{component}.mid_block.resnets.{i}", False) for i in range(2)
        )
        if config["mid_block_add_attention"]:
            attentions.append((f"{component}.mid.attn_1", f"{component}.mid_block.attentions.0", channels[-1]))
    previous = channels[0]
    for i, channel in enumerate(channels):
        for j in range(layers):
            resnets.append(
                (f"encoder.down.{i}.block.{j}", f"encoder.down_blocks.{i}.resnets.{j}", previous != channel)
            )
            previous = channel
        if i < len(channels) - 1:
            modules.append((f"encoder.down.{i}.downsample.conv", f"encoder.down_blocks.{i}.downsamplers.0.conv"))
    previous = channels[-1]
    for i, channel in enumerate(reversed(channels)):
        original_index = len(channels) - 1 - i
        for j in range(layers + 1):
            resnets.append(
                (f"decoder.up.{original_index}.block.{j}", f"decoder.up_blocks.{i}.resnets.{j}", previous != channel)
            )
            previous = channel
        if i < len(channels) - 1:
            modules.append((f"decoder.up.{original_index}.upsample.conv", f"decoder.up_blocks.{i}.upsamplers.0.conv"))
    for old, new, shortcut in resnets:
        modules.extend((f"{old}.{name}", f"{new}.{name}") for name in ("norm1", "norm2", "conv1", "conv2"))
        if shortcut:
            modules.append((old + ".nin_shortcut", new + ".conv_shortcut"))
    for component, direction in (("encoder", "down"), ("decoder", "up")):
        block_types = config.get(f"{direction}_block_types", ())
        for i, kind in enumerate(block_types):
            if not kind.startswith("Attn"):
                continue
            original_index = i if component == "encoder" else len(channels) - 1 - i
            channel = channels[original_index]
            for j in range(layers + int(component == "decoder")):
                attentions.append(
                    (
                        f"{component}.{direction}.{original_index}.attn.{j}",
                        f"{component}.{direction}_blocks.{i}.attentions.{j}",
                        channel,
                    )
                )
    for old, new, width in attentions:
        modules.append((old + ".norm", new + ".group_norm"))
        for a, b in (("q", "to_q"), ("k", "to_k"), ("v", "to_v"), ("proj_out", "to_out.0")):
            rules.append(
                Rule((f"{old}.{a}.weight",), (f"{new}.{b}.weight",), Reshape((width, width, 1, 1), (width, width)))
            )
            modules.append((f"{old}.{a}", f"{new}.{b}"))
    transformed = {key for rule in rules for key in rule.original}
    mapping = {
        f"{old}.{p}": f"{new}.{p}"
        for old, new in modules
        for p in ("weight", "bias")
        if f"{old}.{p}" not in transformed
    }
    return Conversion(mapping=mapping, rules=tuple(rules))


# ---- verbatim: svd_vae.py
def svd_vae_conversion(config):
    original_format = config.get("original_format", "svd")
    if original_format not in ("svd", "temporal_vae"):
        raise ValueError("Temporal VAE original_format must be 'svd' or 'temporal_vae'.")
    encoder_prefix = "conditioner.embedders.3.encoder." if original_format == "svd" else ""
    decoder_prefix = "first_stage_model." if original_format == "svd" else ""
    base = ldm_vae_conversion(
        {
            **config,
            "up_block_types": ["UpDecoderBlock2D"] * len(config["block_out_channels"]),
            "mid_block_add_attention": True,
            "use_post_quant_conv": False,
        }
    )
    mapping, rules, resnets = {}, [], []
    for old, new in base.mapping.items():
        prefix = decoder_prefix if new.startswith("decoder.") else encoder_prefix
        if new.startswith("decoder.mid_block.resnets."):
            continue
        if new.startswith("decoder.") and ".resnets." in new:
            parent, suffix = new.rsplit(".resnets.", 1)
            index, suffix = suffix.split(".", 1)
            parent += ".resnets." + index
            mapping[prefix + old] = parent + ".spatial_res_block." + suffix
            if suffix == "norm1.weight":
                resnets.append((prefix + old.removesuffix(".norm1.weight"), parent))
        else:
            mapping[prefix + old] = new
    for i in range(config["layers_per_block"]):
        old, new = f"{decoder_prefix}decoder.mid.block_{i + 1}", f"decoder.mid_block.resnets.{i}"
        resnets.append((old, new))
        mapping.update(
            {
                f"{old}.{name}.{p}": f"{new}.spatial_res_block.{name}.{p}"
                for name in ("norm1", "norm2", "conv1", "conv2")
                for p in ("weight", "bias")
            }
        )
    for rule in base.rules:
        prefix = decoder_prefix if rule.diffusers[0].startswith("decoder.") else encoder_prefix
        rules.append(Rule(tuple(prefix + key for key in rule.original), rule.diffusers, rule.transform))
    for old, new in resnets:
        mapping[old + ".mix_factor"] = new + ".time_mixer.mix_factor"
        for a, b in (
            ("in_layers.0", "norm1"),
            ("in_layers.2", "conv1"),
            ("out_layers.0", "norm2"),
            ("out_layers.3", "conv2"),
        ):
            mapping.update(
                {f"{old}.time_stack.{a}.{p}": f"{new}.temporal_res_block.{b}.{p}" for p in ("weight", "bias")}
            )
    mapping.update(
        {
            f"{decoder_prefix}decoder.conv_out.time_mix_conv.{p}": f"decoder.time_conv_out.{p}"
            for p in ("weight", "bias")
        }
    )
    return Conversion(mapping=mapping, rules=tuple(rules))


# ---- verbatim: clip_vision.py
def clip_vision_conversion(config):
    projected = config["_class_name"] == "CLIPVisionModelWithProjection"
    prefix = (
        ""
        if not projected and int((config.get("transformers_version") or "4").split(".")[0]) >= 5
        else "vision_model."
    )
    original_format = config.get("original_format", "clip")
    if original_format not in ("clip", "openclip"):
        raise ValueError("CLIP vision original_format must be clip or openclip.")
    modules = [("ln_pre", "pre_layrnorm"), ("ln_post", "post_layernorm")]
    pairs = [
        ("class_embedding", "embeddings.class_embedding"),
        ("positional_embedding", "embeddings.position_embedding.weight"),
        ("conv1.weight", "embeddings.patch_embedding.weight"),
    ]
    rules = []
    for i in range(config["num_hidden_layers"]):
        old, new = f"transformer.resblocks.{i}", f"encoder.layers.{i}"
        modules.extend(
            (f"{old}.{a}", f"{new}.{b}")
            for a, b in (
                ("ln_1", "layer_norm1"),
                ("ln_2", "layer_norm2"),
                ("mlp.c_fc", "mlp.fc1"),
                ("mlp.c_proj", "mlp.fc2"),
                ("attn.out_proj", "self_attn.out_proj"),
            )
        )
        for p in ("weight", "bias"):
            if original_format == "openclip":
                rules.append(
                    Rule(
                        (f"{old}.attn.in_proj_{p}",),
                        tuple(f"{prefix}{new}.self_attn.{part}_proj.{p}" for part in ("q", "k", "v")),
                        Split((config["hidden_size"],) * 3),
                    )
                )
            else:
                pairs.extend(("", f"{new}.self_attn.{part}_proj.{p}") for part in ("q", "k", "v"))
    pairs.extend((f"{old}.{p}", f"{new}.{p}") for old, new in modules for p in ("weight", "bias"))
    mapping = {(old if original_format == "openclip" else "vision_model." + new): prefix + new for old, new in pairs}
    if projected:
        if original_format == "openclip":
            rules.append(Rule(("proj",), ("visual_projection.weight",), Permute((1, 0))))
        else:
            mapping["visual_projection.weight"] = "visual_projection.weight"
    return Conversion(mapping=mapping, rules=rules)


if __name__ == "__main__":
    main()
