#!/usr/bin/env python3
"""Writes a full-size SVD-XT model folder with random weights, in diffusers layout, stored as the published
`.fp16` variant, for benchmarks (real weights cannot be downloaded here). Both svdbatch and diffusers load it.

    python3 Tests/Benchmarks/make_full_size_model.py /tmp/svd-xt-random

Needs torch, diffusers and transformers from PyPI; writes about 4.5 GB; keep it outside the repository.
The configs are the published SVD-XT values (diffusers' class defaults for the UNet, explicit VAE widths, OpenCLIP
ViT-H/14 for the image encoder, the shipped scheduler config).
"""
import json
import os
import sys

import torch
from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, UNetSpatioTemporalConditionModel
from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    UNetSpatioTemporalConditionModel(num_frames=25).half().save_pretrained(os.path.join(out, "unet"), variant="fp16")
    # The VAE's class defaults are not SVD's: its widths are spelled out.
    AutoencoderKLTemporalDecoder(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                                 block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
                                 sample_size=768, scaling_factor=0.18215, force_upcast=True
                                 ).half().save_pretrained(os.path.join(out, "vae"), variant="fp16")
    clip = CLIPVisionConfig(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=16,
                            patch_size=14, image_size=224, projection_dim=1024, hidden_act="gelu", layer_norm_eps=1e-5)
    CLIPVisionModelWithProjection(clip).half().save_pretrained(os.path.join(out, "image_encoder"), variant="fp16")
    EulerDiscreteScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                           prediction_type="v_prediction", timestep_type="continuous", use_karras_sigmas=True,
                           sigma_min=0.002, sigma_max=700.0, timestep_spacing="leading", steps_offset=1,
                           interpolation_type="linear").save_pretrained(os.path.join(out, "scheduler"))
    CLIPImageProcessor().save_pretrained(os.path.join(out, "feature_extractor"))
    with open(os.path.join(out, "model_index.json"), "w") as f:
        json.dump({"_class_name": "StableVideoDiffusionPipeline", "_diffusers_version": "0.42.1",
                   "feature_extractor": ["transformers", "CLIPImageProcessor"],
                   "image_encoder": ["transformers", "CLIPVisionModelWithProjection"],
                   "scheduler": ["diffusers", "EulerDiscreteScheduler"],
                   "unet": ["diffusers", "UNetSpatioTemporalConditionModel"],
                   "vae": ["diffusers", "AutoencoderKLTemporalDecoder"]}, f, indent=2)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
