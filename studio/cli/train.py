"""``genstudio train ...``: every family's trainer, its defaults read from the training recipes.

Each subcommand runs one kind of recipe (studio.core.training.recipes): ``--recipe`` picks one by
name, otherwise ``--data`` picks the command's recipe for that data set (the first is the default);
any option given on the command line changes the recipe's setting. The task builder is then called
with the recipe's options spelt out, and the shared Trainer with its settings."""
from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from ..core.errors import StudioError
from ..core.training.recipes import Recipe, command_recipes, find_recipe, recipe_for

# The Trainer settings every family command takes (--steps, --batch-size, ...), each a Recipe field.
TRAINER_FLAGS = ("steps", "batch_size", "lr", "precision", "ema_decay")
# Per command: the flags that set a task option of the recipe (argparse dest -> option name).
OPTION_FLAGS: dict[str, dict[str, str]] = {
    "diffusion": {"channels": "base_channels", "arch": "arch", "tokens": "tokens", "prediction": "prediction",
                  "min_snr": "min_snr_gamma", "hidden": "hidden", "depth": "depth", "schedule": "schedule"},
    "vae": {"latent_dim": "latent_dim", "beta": "beta", "captions": "captions"},
    "gan": {"z_dim": "z_dim", "width": "width", "loss": "loss", "d_lr": "d_lr", "diffaugment": "diffaugment",
            "r1": "r1", "mapping": "mapping"},
    "pixelcnn": {"channels": "channels", "layers": "layers", "head": "head", "captions": "captions",
                 "levels": "levels", "output": "output", "mixtures": "mixtures"},
    "vqvae": {"codes": "codes", "code_dim": "code_dim", "hidden": "hidden", "likelihood": "likelihood",
              "downsample": "downsample", "mixtures": "mixtures"},
    "autoencoder": {"channels": "base_channels", "latent_channels": "latent_channels"},
    "ar-transformer": {"dim": "dim", "layers": "layers", "heads": "heads", "captions": "captions"},
    "video": {"channels": "base_channels", "min_snr": "min_snr_gamma", "p_first": "p_first",
              "shared_noise": "shared_noise", "joint_levels": "joint_levels"},
}
# Per command: inputs that are files, not settings; given to the task builder as they are.
FILE_FLAGS: dict[str, tuple[str, ...]] = {"gan": ("attribute_classifier",), "ar-transformer": ("tokenizer",),
                                          "diffusion": ("init", "autoencoder"), "video": ("init",)}


# --- the parser -----------------------------------------------------------------------------------
def _help(command: str, key: str, text: str = "") -> str:
    """A flag's help with its default: the setting of the command's default recipe."""
    r = command_recipes(command)[0]
    value = r.options.get(key, getattr(r, key, None))
    if value is None:
        return text
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{text} (default: {shown}, from recipe {r.name})".strip()


def _family_command(tr, command: str, help: str) -> argparse.ArgumentParser:
    """A subcommand running ``command``'s recipes, with the options every trainer takes; each setting
    defaults to None, meaning "the recipe's"."""
    recipes = command_recipes(command)
    p = tr.add_parser(command, help=help, description=help + ". Recipes: " + "; ".join(
        f"{r.name} ({r.label}, --data {r.dataset})" for r in recipes) + ".")
    p.add_argument("--recipe", choices=[r.name for r in recipes],
                   help=f"train as this recipe (default: {recipes[0].name}, or the one for --data)")
    p.add_argument("--data", help="data set: " + ", ".join(dict.fromkeys(r.dataset for r in recipes))
                   + f" (default: {recipes[0].dataset})")
    p.add_argument("--data-dir", help="folder with the IDX files (default: Debian's dataset-fashion-mnist)")
    p.add_argument("--out", required=True, help="output .safetensors path")
    p.add_argument("--steps", type=int, help=_help(command, "steps"))
    p.add_argument("--batch-size", type=int, help=_help(command, "batch_size"))
    p.add_argument("--lr", type=float, help=_help(command, "lr"))
    p.add_argument("--ema-decay", type=float, help=_help(command, "ema_decay"))
    p.add_argument("--precision", choices=["bf16", "fp32"], help=_help(command, "precision"))
    p.add_argument("--limit", type=int, help="use only the first N training images")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--sample-every", type=int, default=500)
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--save-samples", action="store_true", help="write preview grids beside the checkpoint")
    p.add_argument("--resume", action="store_true", help="continue from OUT's .state.safetensors")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_train)
    return p


def add_train(subparsers):
    """``genstudio train``; returns its subparsers so other groups can add theirs."""
    tr = subparsers.add_parser("train", help="train a model").add_subparsers(dest="what", required=True)
    captions = argparse.BooleanOptionalAction

    d = _family_command(tr, "diffusion", "train a text-conditioned diffusion model")
    d.add_argument("--channels", type=int, help=_help("diffusion", "base_channels", "U-Net base channels"))
    d.add_argument("--arch", choices=["unet", "dit"], help=_help("diffusion", "arch", "the denoiser: a U-Net or a DiT"))
    d.add_argument("--tokens", action=captions,
                   help=_help("diffusion", "tokens", "cross-attend to the prompt's token embeddings"))
    d.add_argument("--prediction", choices=["epsilon", "v"], help=_help("diffusion", "prediction", "what it predicts"))
    d.add_argument("--min-snr", type=float,
                   help=_help("diffusion", "min_snr_gamma", "min-SNR-gamma loss weighting (0: uniform)"))
    d.add_argument("--schedule", choices=["cosine", "linear"],
                   help=_help("diffusion", "schedule", "the noise schedule (cosine: Nichol & Dhariwal; linear: DDPM)"))
    d.add_argument("--hidden", type=int, help=_help("diffusion", "hidden", "DiT width"))
    d.add_argument("--depth", type=int, help=_help("diffusion", "depth", "DiT blocks"))
    d.add_argument("--init", help="warm start from this diffusion checkpoint (same backbone and objective; "
                                  "layers it lacks, such as token cross-attention, start as no-ops)")
    d.add_argument("--autoencoder", help="with --data fashion-mnist-latent or shapes-latent: the autoencoder "
                                         ".safetensors from 'genstudio train autoencoder' (embedded in the result)")

    ae = _family_command(tr, "autoencoder", "train the KL autoencoder latent diffusion samples in")
    ae.add_argument("--channels", type=int, help=_help("autoencoder", "base_channels", "base channels"))
    ae.add_argument("--latent-channels", type=int, help=_help("autoencoder", "latent_channels"))

    v = _family_command(tr, "vae", "train a VAE (optionally prompt-conditioned)")
    v.add_argument("--latent-dim", type=int,
                   help=_help("vae", "latent_dim", "size of the latent vector (2 gives a latent map)"))
    v.add_argument("--beta", type=float, help=_help("vae", "beta", "weight of the KL term (1 is the true ELBO)"))
    v.add_argument("--captions", action=captions,
                   help=_help("vae", "captions", "condition on caption embeddings (a conditional VAE)"))

    gn = _family_command(tr, "gan", "train a GAN (spectral-norm critic, hinge loss, generator EMA)")
    gn.add_argument("--z-dim", type=int, help=_help("gan", "z_dim"))
    gn.add_argument("--width", type=int, help=_help("gan", "width", "channels of both networks"))
    gn.add_argument("--loss", choices=["hinge", "nonsaturating"], help=_help("gan", "loss"))
    gn.add_argument("--d-lr", type=float, help="the critic's learning rate (default: --lr)")
    gn.add_argument("--diffaugment", metavar="POLICY",
                    help="DiffAugment on all the critic sees: comma-separated of color (RGB only), translation, "
                         "cutout (default: none)")
    gn.add_argument("--r1", type=float, metavar="GAMMA",
                    help="R1 gradient penalty on real images, weight gamma/2, every 16 critic steps (default: 0, off)")
    gn.add_argument("--mapping", type=int, metavar="LAYERS",
                    help="layers of a StyleGAN mapping network z -> w; the sliders then move w (default: 0, none)")
    gn.add_argument("--attribute-classifier", help="Faces: find attribute directions with this classifier")

    pc = _family_command(tr, "pixelcnn", "train a Gated PixelCNN on Fashion-MNIST, binarised or grey (prompt-conditioned)")
    pc.add_argument("--channels", type=int, help=_help("pixelcnn", "channels", "features of each stack"))
    pc.add_argument("--layers", type=int, help=_help("pixelcnn", "layers", "gated layers after the first"))
    pc.add_argument("--head", type=int, help=_help("pixelcnn", "head", "hidden units of the per-pixel output network"))
    pc.add_argument("--captions", action=captions,
                    help=_help("pixelcnn", "captions", "prompt-conditioned (--no-captions: unconditional)"))
    pc.add_argument("--levels", type=int, help="values per pixel: 2 draws dynamically binarised pixels, 256 the raw "
                                               "8-bit grey levels (default: 2, or the recipe's)")
    pc.add_argument("--output", choices=["softmax", "logistic"],
                    help="the output head: a softmax over the levels (Gated PixelCNN) or a discretised mixture of "
                         "logistics (PixelCNN++) (default: softmax, or the recipe's)")
    pc.add_argument("--mixtures", type=int, help="the logistic head's mixture components (default: 10)")

    vq = _family_command(tr, "vqvae", "train the VQ-VAE whose codes the image transformer writes")
    vq.add_argument("--codes", type=int, help=_help("vqvae", "codes", "codebook size"))
    vq.add_argument("--code-dim", type=int, help=_help("vqvae", "code_dim"))
    vq.add_argument("--hidden", type=int, help=_help("vqvae", "hidden"))
    vq.add_argument("--likelihood", choices=["bernoulli", "logistic"],
                    help="the decoder: Bernoulli on dynamically binarised images, or a discretised logistic "
                         "(mixture) on the raw 8-bit grey levels (default: bernoulli, or the recipe's)")
    vq.add_argument("--downsample", type=int, choices=[2, 4],
                    help="image pixels per code side: 4 gives 7x7 codes of a 28px image, 2 gives 14x14 "
                         "(default: 4, or the recipe's)")
    vq.add_argument("--mixtures", type=int, help="the logistic decoder's components per pixel (default: 1)")

    at = _family_command(tr, "ar-transformer", "train the image transformer over a VQ-VAE's codes, prompt as prefix")
    at.add_argument("--tokenizer", required=True, help="the VQ-VAE .safetensors from 'genstudio train vqvae'")
    at.add_argument("--dim", type=int, help=_help("ar-transformer", "dim"))
    at.add_argument("--layers", type=int, help=_help("ar-transformer", "layers"))
    at.add_argument("--heads", type=int, help=_help("ar-transformer", "heads"))
    at.add_argument("--captions", action=captions,
                    help=_help("ar-transformer", "captions", "prompt-conditioned (--no-captions: unconditional)"))

    vd = _family_command(tr, "video", "train a text-to-video diffusion model on moving Shapes clips")
    vd.add_argument("--channels", type=int, help=_help("video", "base_channels", "U-Net base channels"))
    vd.add_argument("--min-snr", type=float,
                    help=_help("video", "min_snr_gamma", "min-SNR-gamma loss weighting (0: uniform)"))
    vd.add_argument("--p-first", type=float,
                    help=_help("video", "p_first", "share of clips trained with their first frame given"))
    vd.add_argument("--shared-noise", type=float,
                    help=_help("video", "shared_noise", "share of the noise variance all frames have in common "
                                                        "(mixed noise prior; 0: independent frames)"))
    vd.add_argument("--joint-levels", type=int, nargs="*", metavar="LEVEL",
                    help=_help("video", "joint_levels", "U-Net levels (0: full size) that also attend across all "
                                                        "frames and positions at once"))
    vd.add_argument("--init", help="start the image layers from this image diffusion checkpoint (diffusion-shapes: "
                                   "the same U-Net, reading the prompt's tokens), or go on from a video checkpoint")

    fc = tr.add_parser("face-classifier", help="train the Faces attribute classifier")
    fc.add_argument("--out", required=True)
    fc.add_argument("--faces", type=int, default=20_000)
    fc.add_argument("--epochs", type=int, default=3)
    fc.add_argument("--seed", type=int, default=0)
    fc.add_argument("--quiet", action="store_true")
    fc.set_defaults(func=_train_face_classifier)
    return tr


# --- from the command line to a recipe ------------------------------------------------------------
def recipe_from_args(args: argparse.Namespace) -> Recipe:
    """The recipe this run follows: ``--recipe``, or the command's recipe for ``--data``, changed by
    every setting given on the command line."""
    command = args.what
    if args.recipe:
        recipe = find_recipe(args.recipe)
        if recipe.command != command:
            raise StudioError(f"Recipe {recipe.name} trains with 'genstudio train {recipe.command}', not {command}.")
        recipe = recipe.with_(dataset=args.data)
    else:
        recipe = recipe_for(command, args.data)
    changes = {k: getattr(args, k) for k in TRAINER_FLAGS}
    changes |= {option: getattr(args, dest) for dest, option in OPTION_FLAGS.get(command, {}).items()}
    return recipe.with_(**changes)


def _check(recipe: Recipe) -> None:
    if recipe.steps < 1:
        raise StudioError("--steps must be at least 1.")


def _run_options(args: argparse.Namespace) -> dict:
    """What every task builder takes from the run rather than the recipe (and sets the thread count)."""
    import torch

    from ..core.device import pick_device

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)  # the initial weights: torch seeds itself afresh in every process otherwise
    return {"data_dir": args.data_dir, "limit": args.limit, "device": pick_device(args.device), "seed": args.seed,
            "command": "genstudio " + " ".join(shlex.quote(a) for a in args.argv)}


def build_task(args: argparse.Namespace, recipe: Recipe):
    """The TrainTask of ``recipe``: its family's builder, given the recipe's options explicitly."""
    options = {**recipe.task_options(), **_run_options(args)}
    options |= {k: getattr(args, k) for k in FILE_FLAGS.get(args.what, ()) if getattr(args, k) is not None}
    if recipe.reads_prompts:
        from ..core.prompt.encoder import PromptEncoder

        options["encoder"] = PromptEncoder()
    if args.what == "autoencoder":  # latent diffusion's first stage: a part of that family, not a generator
        from ..core.families.diffusion.train_autoencoder import autoencoder_task

        return autoencoder_task(dataset=recipe.dataset, **options)
    if args.what == "vqvae":  # the transformer's tokenizer: a part of that family, not a generator of its own
        from ..core.families.autoregressive.train_transformer import vqvae_task

        if recipe.dataset != "fashion-mnist":
            raise StudioError(f"Unknown data set {recipe.dataset!r}; the VQ-VAE trainer knows: fashion-mnist.")
        return vqvae_task(**options)
    from ..core.families import get_family

    return get_family(recipe.family).train_task(recipe.dataset, **options)


def _trainer(task, recipe: Recipe, args: argparse.Namespace):
    from ..core.device import pick_device
    from ..core.training.trainer import TrainConfig, Trainer

    cfg = TrainConfig(steps=recipe.steps, **recipe.trainer_settings(), sample_every=args.sample_every,
                      checkpoint_every=args.checkpoint_every, seed=args.seed, log_every=args.log_every)
    return Trainer(task, cfg, args.out, pick_device(args.device), resume=args.resume)


def _train(args: argparse.Namespace) -> int:
    recipe = recipe_from_args(args)
    _check(recipe)
    return _run_trainer(_trainer(build_task(args, recipe), recipe, args), args)


@contextlib.contextmanager
def _stop_on_interrupt() -> Iterator[threading.Event]:
    """The first Ctrl-C asks the trainer to stop after the step in progress (it saves its state); a
    second one interrupts at once."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def first(signum, frame) -> None:
        stop.set()
        signal.signal(signal.SIGINT, restore)

    previous = signal.signal(signal.SIGINT, first)
    restore = previous if previous is not None else signal.default_int_handler
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, restore)


def _run_trainer(trainer, args) -> int:
    from tqdm import tqdm

    bar = tqdm(total=trainer.cfg.steps, initial=trainer.step, unit="step", dynamic_ncols=True,
               disable=args.quiet)
    samples_dir = Path(args.out).with_suffix("").with_name(Path(args.out).stem + "-samples")
    with _stop_on_interrupt() as stop:
        code = _report(trainer.run(stop=stop.is_set), bar, samples_dir, args)
    return code


def _report(events, bar, samples_dir: Path, args: argparse.Namespace) -> int:
    from ..core.images import save_grid

    for ev in events:
        if ev.kind == "stopped":
            bar.close()
            print(f"stopped at step {ev.step}; saved its state in {ev.path} (run again with --resume to continue)",
                  file=sys.stderr)
            return 130
        if ev.kind == "step":
            bar.update(ev.step - bar.n)
            shown = {k: f"{v:.4g}" for k, v in ev.metrics.items() if k not in ("lr", "seconds")}
            bar.set_postfix(**shown, lr=f"{ev.metrics['lr']:.1e}")
        elif ev.kind == "samples" and args.save_samples:
            save_grid(ev.images, samples_dir / f"step{ev.step:06d}.png")
        elif ev.kind == "checkpoint":
            bar.write(f"step {ev.step}: saved resumable state {ev.path}")
        elif ev.kind == "done":
            bar.close()
            print(f"trained {ev.step} steps in {ev.metrics['seconds']:.0f} s; wrote {ev.path}")
    return 0


def _train_face_classifier(args: argparse.Namespace) -> int:
    from ..core.evaluation.face_classifier import FaceClassifierConfig, iter_train

    cfg = FaceClassifierConfig(train_faces=args.faces, epochs=args.epochs, seed=args.seed)
    command = "genstudio " + " ".join(shlex.quote(a) for a in args.argv)
    for ev in iter_train(args.out, cfg, command=command):
        if ev.kind == "step" and not args.quiet and ev.step % 100 == 0:
            print(f"step {ev.step}/{ev.total} loss {ev.metrics['loss']:.4f}")
        elif ev.kind == "done":
            figures = ", ".join(f"{k} {v:.3f}" for k, v in ev.metrics.items() if k != "seconds")
            print(f"test: {figures}; {ev.metrics['seconds']:.0f} s; wrote {ev.path}")
    return 0
