"""Prompt adherence of a Shapes diffusion model (GenEval-style: six tasks, each image judged by the
procedural detector) at two guidance scales, side by side. ``--write-card`` stores both on the card."""
from __future__ import annotations

from _common import parser, table

DEFAULT_GUIDANCE = 3.0  # GenerationRequest's default


def main() -> None:
    p = parser(__doc__)
    p.set_defaults(checkpoint="diffusion-shapes")
    p.add_argument("--guidance", type=float, nargs="+", default=[1.0, 3.0],
                   help="guidance scales to compare (3 is the studio's default)")
    p.add_argument("--per-prompt", type=int, default=4)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--write-card", action="store_true")
    args = p.parse_args()

    from studio.core.device import describe, pick_device
    from studio.core.evaluation.adherence import TASKS, evaluate_adherence
    from studio.core.evaluation.quality import family_generator, write_metrics_to_card
    from studio.store.registry import load_model

    device = pick_device(args.device)
    model = load_model(args.checkpoint, device)
    runs = {}
    for g in args.guidance:
        generate, sampling = family_generator(model, steps=args.steps, guidance=g)
        runs[g] = evaluate_adherence(generate, per_prompt=args.per_prompt)
        runs[g]["settings"].update({"checkpoint": args.checkpoint, "checkpoint_hash": model.checkpoint.sha256,
                                    **sampling})
    rows = [(task, *(f"{runs[g]['tasks'][task]:.3f}" for g in args.guidance)) for task in TASKS]
    rows.append(("overall", *(f"{runs[g]['overall']:.3f}" for g in args.guidance)))
    n = runs[args.guidance[0]]["images"]
    print(f"{args.checkpoint}: DDIM {args.steps} steps, {args.per_prompt} images per prompt ({n} per scale), "
          f"judged by the procedural detector; device {describe(device)}")
    print(table(rows, ("task", *(f"guidance {g:g}" for g in args.guidance))))
    print("GenEval overall for scale (real photos, a detector network): SD 1.5 0.43, SDXL 0.55")
    if args.write_card:  # the card's headline figure is the run at the studio's default guidance
        write_metrics_to_card(model.checkpoint.path, {f"{g:g}": runs[g] for g in args.guidance},
                              key="adherence_by_guidance")
        if DEFAULT_GUIDANCE in runs:
            write_metrics_to_card(model.checkpoint.path, runs[DEFAULT_GUIDANCE], key="adherence")


if __name__ == "__main__":
    main()
