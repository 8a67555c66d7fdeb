"""GAN recipe ablation: quality against training minutes. Each arm trains the shipped gan-fmnist
recipe (DCGAN-style generator, spectral-norm critic, hinge loss, width 32, batch 64, lr 2e-4, generator
EMA) from scratch on Fashion-MNIST, with the same data, seed and step count, and changes one thing:
a wider network, DiffAugment, the R1 penalty, a faster critic (two time-scale updates), a mapping
network, or all of them. At each evaluation point the EMA generator is sampled as the studio samples
it and scored as `genstudio eval quality` scores a GAN: the project classifier's Frechet distance
against the test split, and the classifier's mean top-class probability on the same samples (how
sure it is what each one shows).

    python benchmarks/gan_ablation.py --steps 5000 --evals 2500,5000 --num 1000 --threads 2
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _common import ROOT, ablation_yardstick, table

ARMS = {  # name -> the gan_task options it changes
    "baseline": {},
    "width 64": {"width": 64},
    "DiffAugment": {"diffaugment": "translation,cutout"},
    "R1 1": {"r1": 1.0},
    "R1 10": {"r1": 10.0},
    "TTUR d_lr 4e-4": {"d_lr": 4e-4},
    "mapping 4": {"mapping": 4},
    "combined": {"width": 64, "diffaugment": "translation,cutout", "r1": 1.0, "d_lr": 4e-4, "mapping": 4},
}


def confidence(classifier, images) -> float:
    """The classifier's mean max-softmax probability on uint8 images (N, 28, 28, 1)."""
    import torch

    from studio.core.pixels import to_signed

    classifier.eval()
    with torch.no_grad():
        probs = torch.cat([torch.softmax(classifier(to_signed(images[s:s + 500])), dim=1)
                           for s in range(0, len(images), 500)])
    return float(probs.max(dim=1).values.mean())


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of: {', '.join(ARMS)}")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--evals", default="1000,2000", help="steps at which to evaluate")
    p.add_argument("--num", type=int, default=1000, help="samples per evaluation")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--data-dir")
    p.add_argument("--classifier", default=str(ROOT / "resources" / "classifiers" / "fmnist-classifier.safetensors"))
    args = p.parse_args()
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        p.error(f"unknown arm {unknown[0]!r}; known: {', '.join(ARMS)}")
    import torch

    from studio.core.evaluation.quality import evaluate_generator, family_generator
    from studio.core.families.gan.train import gan_task
    from studio.core.training.recipes import find_recipe
    from studio.core.training.trainer import TrainConfig, Trainer
    from studio.store.registry import load_model

    yard = ablation_yardstick(args)
    classifier, reference, evals, floor = yard.classifier, yard.reference, yard.evals, yard.floor
    recipe = find_recipe("gan-fmnist")
    print(f"recipe {recipe.name} ({recipe.options}, batch {recipe.batch_size}, lr {recipe.lr}, fp32), "
          f"{args.steps} steps, {args.threads or 'all'} threads; FD of {args.num} EMA samples (real-data floor "
          f"at this size {floor:.3f})", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in arms:
            torch.manual_seed(0)  # the initial weights, as `genstudio train` seeds them
            task = gan_task("fashion-mnist", **{**recipe.task_options(), **ARMS[name]}, data_dir=args.data_dir)
            cfg = TrainConfig(steps=args.steps, **recipe.trainer_settings(), log_every=min(evals[0], 50),
                              sample_every=10**9, checkpoint_every=10**9)
            out = Path(tmp) / "arm.safetensors"
            trainer = Trainer(task, cfg, out)
            for event in trainer.run():
                if event.kind == "step" and event.step in evals:
                    trainer.save_final()
                    model = load_model(str(out), "cpu")
                    gen, _ = family_generator(model)
                    t0 = time.perf_counter()
                    m = evaluate_generator(gen, classifier, num_samples=args.num, held_out_per_prompt=0,
                                           reference=reference)
                    # the very images evaluate_generator scored: seeds 0 .. num - 1
                    shown = model.generate_many(model.default_request().with_(seed=0), m["settings"]["num_samples"])
                    conf = confidence(classifier, shown)
                    rows.append((name, event.step, f"{trainer.seconds / 60:.1f}", f"{m['fid_classifier']:.3f}",
                                 f"{conf:.3f}"))
                    print(f"  {name} step {event.step}: {trainer.seconds / 60:.1f} train-min, FD "
                          f"{m['fid_classifier']:.3f}, confidence {conf:.3f} ({time.perf_counter() - t0:.0f} s to "
                          "evaluate)", flush=True)
    print(table(rows, ("arm", "steps", "train minutes", "classifier FD", "confidence")))


if __name__ == "__main__":
    main()
