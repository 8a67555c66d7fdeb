"""Diffusion recipe ablation: quality against training minutes. Each arm trains the same small
text-conditioned U-Net on Fashion-MNIST from scratch, with the same data, seed and step count, and
changes one thing of the recipe (what the model predicts, the loss weighting, EMA, width, tokens, the
noise schedule, the batch size); at each evaluation point its EMA model is sampled (DDIM, guidance 3)
and scored by the project's classifier Frechet distance, as `genstudio eval quality` does.

    python benchmarks/recipe_ablation.py --steps 800 --evals 400,800 --threads 1
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _common import ROOT, ablation_yardstick, table

ARMS = {  # name -> the task options and trainer settings it changes
    "eps (DDPM)": {},
    "eps + min-SNR-5": {"min_snr_gamma": 5.0},
    "v": {"prediction": "v"},
    "v + min-SNR-5": {"prediction": "v", "min_snr_gamma": 5.0},
    "eps + tokens": {"tokens": True},
    "eps + EMA 0.99": {"ema_decay": 0.99},
    "eps + width 24": {"base_channels": 24},
    "v + min-SNR-5 + linear schedule": {"prediction": "v", "min_snr_gamma": 5.0, "schedule": "linear"},
    "v + min-SNR-5 + batch 128": {"prediction": "v", "min_snr_gamma": 5.0, "batch_size": 128},
}
TRAINER = ("ema_decay", "lr", "batch_size")


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arms", default="eps (DDPM),eps + min-SNR-5,v,v + min-SNR-5",
                   help=f"comma-separated, of: {', '.join(ARMS)}")
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--evals", default="400,800", help="steps at which to evaluate")
    p.add_argument("--channels", type=int, default=16, help="U-Net base channels of every arm")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--num", type=int, default=500, help="samples per evaluation")
    p.add_argument("--sampling-steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--data-dir")
    p.add_argument("--classifier", default=str(ROOT / "resources" / "classifiers" / "fmnist-classifier.safetensors"))
    args = p.parse_args()
    import torch

    from studio.core.evaluation.quality import evaluate_generator, family_generator
    from studio.core.families.diffusion.train import fashion_mnist_task
    from studio.core.prompt.encoder import PromptEncoder
    from studio.core.training.trainer import TrainConfig, Trainer
    from studio.store.registry import load_model

    yard = ablation_yardstick(args)
    classifier, reference, evals, floor = yard.classifier, yard.reference, yard.evals, yard.floor
    encoder = PromptEncoder()
    print(f"U-Net base {args.channels}, batch {args.batch_size}, lr {args.lr}, fp32, {args.threads or 'all'} "
          f"threads; FD of {args.num} samples at DDIM {args.sampling_steps}, guidance 3 (real-data floor "
          f"at this size {floor:.3f})", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in [a.strip() for a in args.arms.split(",") if a.strip()]:
            change = ARMS[name]
            settings = {"batch_size": args.batch_size, "lr": args.lr} | {k: v for k, v in change.items() if k in TRAINER}
            options = {"base_channels": args.channels} | {k: v for k, v in change.items() if k not in TRAINER}
            torch.manual_seed(0)
            task = fashion_mnist_task(encoder, batch_size=settings["batch_size"], data_dir=args.data_dir,
                                      **options)
            cfg = TrainConfig(steps=args.steps, precision="fp32", log_every=min(evals[0], 50),
                              sample_every=10**9, checkpoint_every=10**9, **settings)
            out = Path(tmp) / "arm.safetensors"
            trainer = Trainer(task, cfg, out)
            for event in trainer.run():
                if event.kind == "step" and event.step in evals:
                    trainer.save_final()
                    gen, _ = family_generator(load_model(str(out), "cpu"), steps=args.sampling_steps,
                                              sampler="ddim", guidance=3.0)
                    t0 = time.perf_counter()
                    m = evaluate_generator(gen, classifier, num_samples=args.num, held_out_per_prompt=0,
                                           reference=reference)
                    rows.append((name, event.step, f"{trainer.seconds / 60:.1f}", f"{m['fid_classifier']:.3f}",
                                 f"{m['prompt_accuracy']:.3f}"))
                    print(f"  {name} step {event.step}: {trainer.seconds / 60:.1f} train-min, FD "
                          f"{m['fid_classifier']:.3f} ({time.perf_counter() - t0:.0f} s to evaluate)", flush=True)
    print(table(rows, ("arm", "steps", "train minutes", "classifier FD", "prompt accuracy")))


if __name__ == "__main__":
    main()
