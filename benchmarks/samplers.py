"""Sample quality per sampler and step count: the project's classifier Frechet distance (as
`genstudio eval quality` measures it) of class-prompted samples from one diffusion checkpoint, for
each sampler at each step count, with the seconds each run took and its model evaluations (NFE)."""
from __future__ import annotations

import time

from _common import ROOT, parser, table


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--classifier", default=str(ROOT / "resources" / "classifiers" / "fmnist-classifier.safetensors"))
    p.add_argument("--samplers", default="", help="comma-separated (default: every sampler of the family)")
    p.add_argument("--steps", default="5,10,20,50", help="comma-separated step counts")
    p.add_argument("--num", type=int, default=500, help="samples per run, split evenly over the 10 classes")
    p.add_argument("--guidance", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--data-dir")
    p.add_argument("--sigma-max", type=float, help="start the Karras-sigma samplers here instead of at the "
                   "trained schedule's largest sigma (e.g. 80, as Karras et al. do)")
    args = p.parse_args()
    import torch

    from studio.core.device import describe, pick_device
    from studio.core.evaluation.classifier import load_classifier
    from studio.core.evaluation.quality import build_reference, evaluate_generator, family_generator
    from studio.store.registry import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.sigma_max:  # a measurement knob only: the studio always starts at the schedule's sigma_max
        import functools

        from studio.core.families.diffusion import family
        from studio.core.families.diffusion import samplers as sampler_module

        family.make_sampler = functools.partial(sampler_module.make_sampler, sigma_max=args.sigma_max)
    device = pick_device(args.device)
    model = load_model(args.checkpoint, device)
    classifier = load_classifier(args.classifier, device)
    reference = build_reference(classifier, args.data_dir, seed=args.seed)
    samplers = [s for s in args.samplers.split(",") if s] or list(model.samplers)
    steps = [int(s) for s in args.steps.split(",")]
    print(f"device: {describe(device)}; checkpoint {args.checkpoint}; {args.num} class-prompted samples per run, "
          f"guidance {args.guidance}, seed {args.seed}; Karras sigma_max {args.sigma_max or 'of the schedule'}; "
          f"real-data floor at this size: "
          f"{reference.floor_same_n(args.num // 10, args.seed)[0]:.3f}", flush=True)
    rows = []
    for name in samplers:
        for n in steps:
            gen, _ = family_generator(model, steps=n, sampler=name, guidance=args.guidance)
            t0 = time.perf_counter()
            metrics = evaluate_generator(gen, classifier, num_samples=args.num, held_out_per_prompt=0,
                                         seed=args.seed, reference=reference)
            seconds = metrics["seconds"]["generate"]
            nfe = _evaluations(model, name, n, args.sigma_max)
            rows.append((name, n, nfe, f"{metrics['fid_classifier']:.3f}", f"{metrics['prompt_accuracy']:.3f}",
                         f"{seconds:.1f}"))
            print(f"{name} {n} steps: FD {rows[-1][3]}, accuracy {rows[-1][4]}, {seconds:.1f} s "
                  f"({time.perf_counter() - t0:.1f} s with features)", flush=True)
    print(table(rows, ("sampler", "steps", "NFE", "classifier FD", "prompt accuracy", "s/run")))


def _evaluations(model, name: str, steps: int, sigma_max: float | None) -> int:
    """Model evaluations of one run (Heun takes two per step but the last)."""
    from studio.core.denoising.samplers import make_sampler

    s = make_sampler(name, model.schedule, sigma_max=sigma_max)
    s.set_timesteps(steps)
    return sum(s.evaluations(i) for i in range(steps))


if __name__ == "__main__":
    main()
