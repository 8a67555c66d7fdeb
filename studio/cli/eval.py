"""``genstudio train classifier`` and ``genstudio eval ...``; studio.cli registers them in build_parser.

Torch is imported only inside the handlers so ``genstudio --help`` stays fast."""
from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from ..core.catalog import CATALOG, families_that
from ..core.errors import StudioError
from ..core.request import DEFAULT_SAMPLER, DEFAULT_STEPS, GenerationRequest
from ..store.paths import resources_dir

DEFAULT_CLASSIFIER = resources_dir() / "classifiers" / "fmnist-classifier.safetensors"


def add_train_classifier(train_subparsers) -> None:
    c = train_subparsers.add_parser("classifier", help="train the Fashion-MNIST classifier used by 'eval'")
    c.add_argument("--out", required=True, help="output .safetensors path")
    c.add_argument("--data-dir", help="folder with the IDX files (default: Debian's dataset-fashion-mnist)")
    c.add_argument("--epochs", type=int, default=3)
    c.add_argument("--batch-size", type=int, default=128)
    c.add_argument("--lr", type=float, default=3e-3)
    c.add_argument("--augment", action="store_true", help="random flips and shifts (helps only longer runs)")
    c.add_argument("--limit", type=int, help="use only the first N training images")
    c.add_argument("--eval-limit", type=int, help="measure accuracy on only the first N test images")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--device", default="cpu", help="cpu (default: reproducible), cuda or auto")
    c.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(func=_train_classifier)


def _samplers() -> list[str]:
    """Every sampler some family offers, in catalog order (the catalog is the one list of them)."""
    return list(dict.fromkeys(s for info in CATALOG.values() for s in info.samplers))


def _output_args(p: argparse.ArgumentParser, *, device: bool = True) -> None:
    """What every eval command takes: where it runs, and where its figures go."""
    if device:
        p.add_argument("--device", default="auto")
    p.add_argument("--write-card", action="store_true", help="store the figures in the checkpoint's model card")
    p.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    p.add_argument("--quiet", action="store_true")


def add_eval(subparsers) -> None:
    ev = subparsers.add_parser("eval", help="measure a checkpoint").add_subparsers(dest="what", required=True)
    q = ev.add_parser("quality", help="prompt accuracy and classifier Frechet distance on Fashion-MNIST")
    q.add_argument("--checkpoint", required=True, help="a .safetensors path or a registered checkpoint id (any family)")
    q.add_argument("--classifier", default=str(DEFAULT_CLASSIFIER), help="classifier .safetensors (default: %(default)s)")
    q.add_argument("--num", type=int, default=1000, help="samples, split evenly over the 10 classes")
    q.add_argument("--held-out", type=int, default=20, help="samples per held-out paraphrase prompt")
    q.add_argument("--steps", type=int, default=50)
    q.add_argument("--sampler", default="ddim", choices=_samplers(), help="a denoising family's sampler")
    q.add_argument("--guidance", type=float, default=3.0)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--data-dir", help="folder with the IDX files")
    q.add_argument("--threads", type=int, default=0)
    _output_args(q)
    q.set_defaults(func=_eval_quality)
    lk = ev.add_parser("likelihood", help="test-set NLL on binarised Fashion-MNIST (a grey PixelCNN: on its raw grey "
                       "levels): a VAE's ELBO, importance-weighted NLL and reconstruction error; an autoregressive "
                       "model's exact NLL (PixelCNN) or bound")
    lk.add_argument("--checkpoint", required=True, help="a .safetensors path or registered id of a family with a "
                    f"likelihood ({', '.join(families_that('likelihood'))})")
    lk.add_argument("--k", type=int, help="a VAE's importance samples per image (default 100; 100 or more for the NLL)")
    lk.add_argument("--limit", type=int, help="only the first N test images")
    lk.add_argument("--seed", type=int, default=0, help="seed of the test set's binarisation and the samples")
    lk.add_argument("--data-dir", help="folder with the IDX files")
    lk.add_argument("--threads", type=int, default=0)
    _output_args(lk)
    lk.set_defaults(func=_eval_likelihood)
    ad = ev.add_parser("adherence", help="GenEval-style prompt adherence of a Shapes model, judged by a procedural detector")
    ad.add_argument("--checkpoint", required=True)
    ad.add_argument("--per-prompt", type=int, default=4, help="images per prompt")
    # The studio's default sampling, which is what a user of the studio gets (and the README's table)
    ad.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"(default: {DEFAULT_STEPS})")
    ad.add_argument("--sampler", default=DEFAULT_SAMPLER, choices=_samplers(), help=f"(default: {DEFAULT_SAMPLER})")
    ad.add_argument("--guidance", type=float, nargs="+", default=[3.0],
                    help="one or more guidance scales; the card's headline is the studio's default, 3")
    ad.add_argument("--seed", type=int, default=0)
    _output_args(ad)
    ad.set_defaults(func=_eval_adherence)
    vd = ev.add_parser("video", help="a video model on moving Shapes: motion, object and colour adherence, "
                       "temporal consistency and per-frame Frechet distance, beside real clips' figures")
    vd.add_argument("checkpoint", nargs="?", help="a .safetensors path or registered id of a video model")
    vd.add_argument("--checkpoint", dest="checkpoint_option", metavar="CHECKPOINT", help="the same, as an option")
    vd.add_argument("--n", type=int, default=4, help="clips per prompt (%(default)s; 36 prompts)")
    vd.add_argument("--steps", type=int, default=20, help="(default: %(default)s)")
    vd.add_argument("--sampler", default="ddim", choices=_samplers(), help="(default: %(default)s)")
    vd.add_argument("--guidance", type=float, default=3.0, help="(default: %(default)s)")
    vd.add_argument("--seed", type=int, default=0)
    vd.add_argument("--threads", type=int, default=0)
    _output_args(vd)
    vd.set_defaults(func=_eval_video)
    fa = ev.add_parser("faces", help="a Faces GAN: Frechet distance and the measured attribute edit")
    fa.add_argument("--checkpoint", required=True)
    fa.add_argument("--classifier", default=str(resources_dir() / "classifiers" / "faces-attributes.safetensors"))
    fa.add_argument("--num", type=int, default=2000, help="samples for the Frechet distance")
    fa.add_argument("--attribute", default="smile")
    fa.add_argument("--latents", type=int, default=200, help="latents walked along the attribute")
    fa.add_argument("--seed", type=int, default=0)
    fa.add_argument("--write-card", action="store_true")
    fa.add_argument("--json", action="store_true")
    fa.set_defaults(func=_eval_faces)


class _ProgressBars:
    """A Progress callback drawing one tqdm bar per stage (``unit`` counts the generate stage)."""

    def __init__(self, quiet: bool, unit: str) -> None:
        self.quiet, self.unit, self.bars = quiet, unit, {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if stage not in self.bars:
            self.bars[stage] = tqdm(total=total, desc=stage, unit=self.unit if stage == "generate" else "",
                                    dynamic_ncols=True, disable=self.quiet, leave=False)
        self.bars[stage].update(done - self.bars[stage].n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _train_classifier(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..core.device import pick_device
    from ..core.evaluation.classifier import ClassifierTrainConfig, iter_train_classifier

    cfg = ClassifierTrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                augment=args.augment, seed=args.seed, limit=args.limit,
                                eval_limit=args.eval_limit)
    bar = None
    for ev in iter_train_classifier(args.out, cfg, data_dir=args.data_dir, device=pick_device(args.device),
                                    threads=args.threads):
        if ev.kind == "step":
            if bar is None:
                bar = tqdm(total=ev.total, unit="step", dynamic_ncols=True, disable=args.quiet)
            bar.update(ev.step - bar.n)
            bar.set_postfix(loss=f"{ev.metrics['loss']:.4f}")
        elif ev.kind == "done":
            if bar is not None:
                bar.close()
            print(f"test accuracy {ev.metrics['test_accuracy']:.4f} after {ev.step} steps "
                  f"({ev.metrics['seconds']:.0f} s); wrote {ev.path}")
    return 0


def _resolve_checkpoint(value: str) -> Path:
    """A path, or the id of any registered checkpoint (shipped or the user's)."""
    from ..store.registry import find

    return find(value).path


def _eval_quality(args: argparse.Namespace) -> int:
    import torch

    from ..core.device import pick_device
    from ..core.evaluation.quality import quality, write_metrics_to_card

    if args.threads:
        torch.set_num_threads(args.threads)
    classifier = Path(args.classifier)
    if not classifier.is_file():
        raise StudioError(f"Classifier {classifier} does not exist; train one with "
                          f"'genstudio train classifier --out {classifier}'.")
    progress = _ProgressBars(args.quiet, "img")

    checkpoint = _resolve_checkpoint(args.checkpoint)
    metrics = quality(checkpoint, classifier, num_samples=args.num, steps=args.steps, sampler=args.sampler,
                      guidance=args.guidance, seed=args.seed, data_dir=args.data_dir, progress=progress,
                      held_out_per_prompt=args.held_out, device=pick_device(args.device))
    progress.close()
    print(json.dumps(metrics, indent=2) if args.json else format_table(metrics))
    if args.write_card:
        print(f"wrote metrics to {write_metrics_to_card(checkpoint, metrics)}")
    return 0


def _eval_likelihood(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from ..core.card_text import render_metrics
    from ..core.device import pick_device
    from ..core.evaluation.quality import write_metrics_to_card
    from ..store.registry import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    checkpoint = _resolve_checkpoint(args.checkpoint)
    model = load_model(str(checkpoint), pick_device(args.device))
    model.require("likelihood")
    bar = tqdm(unit="img", dynamic_ncols=True, disable=args.quiet, leave=False)

    def progress(_stage: str, done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    options = {"limit": args.limit, "seed": args.seed, "progress": progress}
    if args.k is not None:  # importance samples: what a family with a bound it tightens takes
        options["k"] = args.k
    m = model.likelihood(args.data_dir, **options)
    bar.close()
    m["settings"].update({"checkpoint": checkpoint.stem, "checkpoint_hash": model.checkpoint.sha256})
    print(json.dumps(m, indent=2) if args.json else render_metrics("likelihood", m, title=checkpoint.stem).to_text())
    if args.write_card:
        print(f"wrote metrics to {write_metrics_to_card(checkpoint, m, key='likelihood')}")
    return 0


def _eval_adherence(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..core.device import pick_device
    from ..core.evaluation.adherence import evaluate_adherence
    from ..core.evaluation.quality import family_generator, write_metrics_to_card
    from ..store.registry import load_model

    checkpoint = _resolve_checkpoint(args.checkpoint)
    model = load_model(str(checkpoint), pick_device(args.device))
    if model.image_format.shape != (32, 32, 3):
        raise StudioError(f"{checkpoint.stem} does not make 32x32 colour images: prompt adherence is measured on "
                          "Shapes models (train one with 'genstudio train diffusion --data shapes').")
    runs = {}
    for guidance in args.guidance:
        generate, sampling = family_generator(model, steps=args.steps, sampler=args.sampler, guidance=guidance)
        bar = tqdm(unit="img", dynamic_ncols=True, disable=args.quiet, leave=False)

        def progress(_stage: str, done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        m = evaluate_adherence(generate, per_prompt=args.per_prompt, seed=args.seed, progress=progress)
        bar.close()
        m["settings"].update({"checkpoint": checkpoint.stem, "checkpoint_hash": model.checkpoint.sha256, **sampling})
        print(json.dumps(m, indent=2) if args.json else format_adherence(m))
        runs[f"{guidance:g}"] = m
    if args.write_card:  # every scale measured, and the headline at the studio's default guidance
        if len(runs) > 1:
            write_metrics_to_card(checkpoint, runs, key="adherence_by_guidance")
        headline = runs.get(f"{GenerationRequest.guidance:g}", runs[f"{args.guidance[0]:g}"])
        print(f"wrote metrics to {write_metrics_to_card(checkpoint, headline, key='adherence')}")
    return 0


def format_adherence(m: dict) -> str:
    s = m["settings"]
    lines = [f"{s.get('checkpoint', '?')}: {s.get('sampler', '?')} {s.get('steps', '?')} steps, guidance "
             f"{s.get('guidance', '?')}, {m['images']} images", "", f"{'task':14} {'correct':>8}"]
    lines += [f"{task:14} {acc:8.3f}" for task, acc in m["tasks"].items()]
    lines.append(f"{'overall':14} {m['overall']:8.3f}   (GenEval for scale: SD 1.5 0.43, SDXL 0.55)")
    return "\n".join(lines)


def _eval_video(args: argparse.Namespace) -> int:
    import torch

    from ..core.device import pick_device
    from ..core.evaluation.quality import write_metrics_to_card
    from ..core.evaluation.video import evaluate_video
    from ..store.registry import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    name = args.checkpoint or args.checkpoint_option
    if not name:
        raise StudioError("eval video needs a checkpoint: genstudio eval video CHECKPOINT")
    checkpoint = _resolve_checkpoint(name)
    model = load_model(str(checkpoint), pick_device(args.device))
    if not model.can("video"):
        raise StudioError(f"{checkpoint.stem} makes still images, not clips: 'eval video' measures video models "
                          "(train one with 'genstudio train video').")
    progress = _ProgressBars(args.quiet, "clip")

    m = evaluate_video(model, n_per_prompt=args.n, steps=args.steps, sampler=args.sampler, guidance=args.guidance,
                       seed=args.seed, progress=progress)
    progress.close()
    m["settings"]["command"] = "genstudio " + " ".join(shlex.quote(a) for a in getattr(args, "argv", []))
    print(json.dumps(m, indent=2) if args.json else format_video(m))
    if args.write_card:
        print(f"wrote metrics to {write_metrics_to_card(checkpoint, m, key='video')}")
    return 0


def format_video(m: dict) -> str:
    """The video evaluation as a table: generated clips beside real clips of the same prompts."""
    s, real = m["settings"], m["real"]

    def share(v: float | None) -> str:
        return "   n/a" if v is None else f"{v:6.3f}"

    lines = [f"{s.get('checkpoint', '?')}: {s.get('sampler', '?')} {s.get('steps', '?')} steps, guidance "
             f"{s.get('guidance', '?')}, {m['clips']} clips ({s['prompts']} prompts x {s['n_per_prompt']}) of "
             f"{s['frames']} frames {s['frame_size'][0]}x{s['frame_size'][1]}", "",
             f"{'':34} {'model':>6} {'real':>6}"]
    rows = [("motion adherence", "motion_adherence"), ("object adherence (per frame)", "object_adherence"),
            ("colour adherence (per frame)", "colour_adherence"),
            ("temporal consistency (per frame)", "temporal_consistency"),
            ("clips consistent in >= 90% frames", "consistent_clips")]
    lines += [f"{label:34} {share(m[key])} {share(real[key])}" for label, key in rows]
    lines.append(f"{'per-frame Frechet distance':34} {m['fd_frames']:6.3f} {real['fd_frames']:6.3f}"
                 "   (real: a second real set; lower is better)")
    lines += ["", f"{'motion':20} {'model':>6} {'real':>6}"]
    lines += [f"{motion:20} {share(v)} {share(real['motion_adherence_per_motion'].get(motion))}"
              for motion, v in m["motion_adherence_per_motion"].items()]
    return "\n".join(lines)


def _eval_faces(args: argparse.Namespace) -> int:
    from ..core import checkpoint as ckpt_io
    from ..core.data.faces import ATTRIBUTES
    from ..core.evaluation.face_classifier import load_face_classifier
    from ..core.evaluation.quality import write_metrics_to_card
    from ..core.families.gan.eval import attribute_edit, faces_quality
    from ..store.registry import load_model

    checkpoint = _resolve_checkpoint(args.checkpoint)
    if not Path(args.classifier).is_file():
        raise StudioError(f"Classifier {args.classifier} does not exist; train one with "
                          f"'genstudio train face-classifier --out {args.classifier}'.")
    model = load_model(str(checkpoint))
    model.require("attributes")  # its latent space has named directions (model.basis)
    if model.image_format.shape != (32, 32, 3):
        raise StudioError(f"{checkpoint.stem} does not make 32x32 colour images: the Faces evaluation needs a "
                          "model of the Faces data set (train one with 'genstudio train gan --data faces').")
    clf = load_face_classifier(args.classifier)
    q = faces_quality(model, clf, args.num, args.seed)
    stamp = {"checkpoint": checkpoint.stem, "checkpoint_hash": model.checkpoint.sha256,
             "classifier": Path(args.classifier).stem, "classifier_hash": ckpt_io.file_hash(Path(args.classifier))}
    q["settings"].update(stamp)
    # Every attribute slider the model has, so entanglement shows wherever it is, not only for smile.
    sliders = [n.replace(" ", "_") for n in model.basis.names if not n.startswith("PC")]
    if args.attribute not in sliders:
        raise StudioError(f"{checkpoint.stem} has no {args.attribute!r} slider; it has: {', '.join(sliders) or 'none'}.")
    edits = {}
    for name in sliders:
        edits[name] = attribute_edit(model, clf, name, args.latents, args.seed)
        edits[name]["settings"].update(stamp)
    if args.json:
        print(json.dumps({"quality": q, "attribute_edits": edits}, indent=2))
    else:
        print(f"{checkpoint.stem}: Frechet distance in Faces-classifier features {q['fid_face_classifier']:.3f} "
              f"(real vs real: {q['fid_face_classifier_real_vs_real_same_n']:.3f}), {args.num} samples")
        names = [a.name for a in ATTRIBUTES]
        print(f"\nwalking {args.latents} latents from -3 to +3 along each slider; the classifier's reading of "
              "the slider's own attribute (start -> end), and how much every attribute changed:")
        print(f"  {'slider':10} {'own reading':>17} {'monotonic':>9}  " + " ".join(f"{n[:10]:>10}" for n in names))
        for name, e in edits.items():
            changes = {**e["others_change"], name: e["change"]}
            print(f"  {name:10} {e['mean_score'][0]:7.3f} -> {e['mean_score'][-1]:6.3f} {str(e['monotonic']):>9}  "
                  + " ".join(f"{changes[n]:10.3f}" for n in names))
    if args.write_card:
        write_metrics_to_card(checkpoint, q, key="quality")
        write_metrics_to_card(checkpoint, edits, key="attribute_edits")
        print(f"wrote metrics to {write_metrics_to_card(checkpoint, edits[args.attribute], key='attribute_edit')}")
    return 0


def format_table(m: dict) -> str:
    s = m["settings"]
    sampling = s.get("sampler", "?")
    if "steps" in s:
        sampling += f" {s['steps']} steps, guidance {s.get('guidance', '?')}"
    lines = [
        f"{s.get('checkpoint', '?')}: {s['num_samples']} samples, {sampling}, seed {s['seed']}; "
        f"judged by {s.get('classifier', '?')} "
        f"(test accuracy {m['classifier_test_accuracy']:.3f})",
    ]
    if m["prompt_accuracy"] is None:
        lines.append("unconditional model: prompts are ignored, so only the Frechet distance applies")
    else:
        lines += ["", f"{'prompted class':16} {'prompt':22} {'accuracy':>8}"]
        for (name, acc), prompt in zip(m["prompt_accuracy_per_class"].items(), s["class_prompts"]):
            lines.append(f"{name:16} {prompt:22} {acc:8.3f}")
        lines.append(f"{'all':16} {'':22} {m['prompt_accuracy']:8.3f}")
    if m["held_out_prompt_accuracy"] is not None:
        lines += ["", f"{'held-out prompt':39} {'accuracy':>8}"]
        for prompt, acc in m["held_out_prompt_accuracy_per_prompt"].items():
            lines.append(f"{prompt:39} {acc:8.3f}")
        lines.append(f"{'all':39} {m['held_out_prompt_accuracy']:8.3f}")
    n, ref = s["num_samples"], s["train_reference_images"]
    rows = [(f"generated ({n} images)", m["fid_classifier"], ""),
            (f"real train images ({n} images)", m["fid_classifier_train_vs_test_same_n"], "  <- floor at this sample size"),
            (f"real train images ({ref} images)", m["fid_classifier_train_vs_test"], "")]
    b = m.get("real_reference")
    if b:
        rows.append((f"real test images as shown ({b['settings']['fd_images']})", b["fid_classifier_same_n"],
                     "  <- floor for this model's rendering"))
    lines += ["", "Frechet distance in classifier feature space, against the 10k test images (lower is better):"]
    lines += [f"  {label:34} {value:10.3f}{note}" for label, value, note in rows]
    if m.get("precision") is not None:
        real = m.get("precision_recall_real")
        lines.append(f"\nPrecision {m['precision']:.3f}, recall {m['recall']:.3f}"
                     + (f" (two real samples of this size: {real[0]:.3f}, {real[1]:.3f})" if real else "")
                     + f"; {s['precision_recall']}.")
    if b:
        lines.append(f"\nReal test images shown as this model shows its samples ({b['what']}) are classified "
                     f"correctly {b['accuracy']:.3f} of the time: the ceiling for its prompt accuracy.")
    return "\n".join(lines)
