"""What the live preview costs a Stable Diffusion model: a whole generation with each step's predicted
latent shown as latent colours (the fixed linear map), decoded by the VAE every step, or decoded every
k steps, against the floor (no step previews: only the final image decoded). Runs interleaved.

The pipeline is Stable Diffusion 1.x's U-Net and VAE at full size with random weights (the studio's own
configs; nothing is downloaded), so the timings are a real model's; the text encoder is a small one,
which costs one pass per generation either way.

    python benchmarks/pipeline_preview.py --size 256 --steps 8 --rounds 2
"""
from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from _common import ROOT, interleaved, parser, table, time_generation


def build(folder: Path, size: int) -> Path:
    """An SD 1.x-shaped diffusers folder of random weights at ``size`` pixels."""
    import json

    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from studio.core.families.pipeline.configs import sd_configs
    from tests.families.pipeline.tiny import SCHEDULER, text_config, write_tokenizer

    torch.manual_seed(0)
    configs = sd_configs("sd1", size=size)
    vocab = write_tokenizer(folder / "tokenizer", max_length=77)
    text = text_config(vocab) | {"hidden_size": 768, "projection_dim": 768, "max_position_embeddings": 77}
    for name, module in (("unet", UNet2DConditionModel(**configs["unet"])), ("vae", AutoencoderKL(**configs["vae"])),
                         ("text_encoder", CLIPTextModel(CLIPTextConfig.from_dict(text)))):
        module.save_pretrained(folder / name)
    (folder / "scheduler").mkdir(parents=True, exist_ok=True)
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(SCHEDULER))
    (folder / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "PNDMScheduler"]}))
    return folder


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--every", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    import sys

    import torch

    sys.path.insert(0, str(ROOT))  # tests.families.pipeline.tiny: the tokenizer writer
    from studio.core.device import describe
    from studio.core.families.pipeline import family as pipeline_family
    from studio.core.families.pipeline.family import PipelineFamily

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model = PipelineFamily.from_checkpoint(build(Path(tmp) / "sd1-random", args.size), "cpu")
        req = model.default_request().with_(prompt="a red cat", steps=args.steps, sampler="ddim", guidance=7.5,
                                            width=args.size, height=args.size)
        linear_rgb = pipeline_family.linear_rgb

        def run(mode: str) -> float:
            if mode == "none":  # the floor: the linear map made free (it returns a blank), the final decode kept
                model.set_preview("linear")
                pipeline_family.linear_rgb = lambda x0, size: torch.zeros(len(x0), 3, *size[::-1])
            else:
                model.set_preview(*((mode, 1) if mode != "decode every k" else ("decode", args.every)))
            try:
                return time_generation(model, req)
            finally:
                pipeline_family.linear_rgb = linear_rgb

        modes = ("none", "linear", "decode", "decode every k")
        times = interleaved({m: lambda m=m: run(m) for m in modes}, args.rounds)
    floor = statistics.median(times["none"])
    label = {"none": "none (the floor)", "linear": "latent colours, every step", "decode": "VAE decoder, every step",
             "decode every k": f"VAE decoder, every {args.every} steps"}
    rows = [(label[m], f"{statistics.median(times[m]):.2f}", f"{(statistics.median(times[m]) / floor - 1) * 100:+.1f}%")
            for m in modes]
    print(f"SD 1.x U-Net and VAE (random weights), {args.size}x{args.size}, DDIM {args.steps} steps, guidance 7.5, "
          f"batch 1; device {describe('cpu')}; median of {args.rounds} interleaved rounds")
    print(table(rows, ("per-step preview", "seconds per generation", "overhead")))


if __name__ == "__main__":
    main()
