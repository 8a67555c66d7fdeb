"""The ``genstudio`` command line: the same engine as the studio, headless."""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..core.errors import StudioError


def _task_options(args: argparse.Namespace) -> dict:
    """What every TrainTask builder takes from the common options (and sets the thread count)."""
    import torch

    from ..core.device import pick_device

    if args.threads:
        torch.set_num_threads(args.threads)
    return {"batch_size": args.batch_size, "data_dir": args.data_dir, "limit": args.limit,
            "device": pick_device(args.device), "seed": args.seed,
            "command": "genstudio " + " ".join(shlex.quote(a) for a in args.argv)}


def _trainer(task, args: argparse.Namespace):
    from ..core.device import pick_device
    from ..core.training.trainer import TrainConfig, Trainer

    cfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, precision=args.precision,
                      sample_every=args.sample_every, checkpoint_every=args.checkpoint_every, seed=args.seed,
                      ema_decay=args.ema_decay, log_every=args.log_every)
    return Trainer(task, cfg, args.out, pick_device(args.device), resume=args.resume)


def _trainer_for(family: str, args: argparse.Namespace, **options):
    """The shared Trainer for ``family`` with the common options (steps, lr, EMA, device, resume)."""
    from ..core.families import get_family

    return _trainer(get_family(family).train_task(args.data, **_task_options(args), **options), args)


def _train_diffusion(args: argparse.Namespace) -> int:
    from ..core.prompt.encoder import PromptEncoder

    trainer = _trainer_for("diffusion", args, encoder=PromptEncoder(), base_channels=args.channels)
    return _run_trainer(trainer, args)


def _train_vae(args: argparse.Namespace) -> int:
    from ..core.prompt.encoder import PromptEncoder

    if args.latent_dim < 1 or args.beta < 0:
        raise StudioError("--latent-dim must be at least 1 and --beta must not be negative.")
    trainer = _trainer_for("vae", args, encoder=PromptEncoder() if args.captions else None,
                           latent_dim=args.latent_dim, beta=args.beta, captions=args.captions)
    return _run_trainer(trainer, args)


def _train_gan(args: argparse.Namespace) -> int:
    trainer = _trainer_for("gan", args, z_dim=args.z_dim, width=args.width, loss=args.loss, lr=args.lr,
                           d_lr=args.d_lr, attribute_classifier=args.attribute_classifier)
    return _run_trainer(trainer, args)


def _train_pixelcnn(args: argparse.Namespace) -> int:
    from ..core.prompt.encoder import PromptEncoder

    trainer = _trainer_for("autoregressive", args, arch="pixelcnn", encoder=PromptEncoder() if args.captions else None,
                           captions=args.captions, channels=args.channels, layers=args.layers, head=args.head)
    return _run_trainer(trainer, args)


def _train_vqvae(args: argparse.Namespace) -> int:
    from ..core.families.autoregressive.train_transformer import vqvae_task

    task = vqvae_task(codes=args.codes, code_dim=args.code_dim, hidden=args.hidden, **_task_options(args))
    return _run_trainer(_trainer(task, args), args)


def _train_ar_transformer(args: argparse.Namespace) -> int:
    from ..core.prompt.encoder import PromptEncoder

    trainer = _trainer_for("autoregressive", args, arch="transformer", tokenizer=args.tokenizer,
                           encoder=PromptEncoder() if args.captions else None, captions=args.captions,
                           dim=args.dim, layers=args.layers, heads=args.heads)
    return _run_trainer(trainer, args)


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


def _run_trainer(trainer, args) -> int:
    from tqdm import tqdm

    from ..core.images import save_grid

    bar = tqdm(total=trainer.cfg.steps, initial=trainer.step, unit="step", dynamic_ncols=True,
               disable=args.quiet)
    samples_dir = Path(args.out).with_suffix("").with_name(Path(args.out).stem + "-samples")
    for ev in trainer.run():
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


DEFAULT_CHECKPOINT = "diffusion-fmnist"


def _generate(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from ..core.device import pick_device
    from ..core.families import load_model
    from ..core.images import save_grid
    from ..core.request import MAX_BATCH
    from ..store.pngmeta import save_png

    if args.num < 1:
        raise StudioError("--num must be at least 1.")
    model = load_model(args.checkpoint, pick_device(args.device), family=args.family)
    latent = ()
    if args.latent:
        try:
            latent = tuple(float(v) for v in args.latent.replace(",", " ").split())
        except ValueError:
            raise StudioError("--latent takes numbers separated by spaces or commas.") from None
        if args.num != 1:
            raise StudioError("--latent makes exactly one image; leave out --num.")
        if len(latent) != getattr(model, "latent_dim", -1):
            raise StudioError(f"--latent needs {getattr(model, 'latent_dim', 'no')} values for {model.checkpoint.id} "
                              f"(got {len(latent)}).")
    default = model.default_request()
    init = ""
    if args.init_image:
        if not model.img2img:
            raise StudioError(CATALOG[model.name].no_img2img)
        from ..core.catalog import CATALOG
        from ..core.images import load_for_model
        from ..store.inputs import store_input

        h, _ = model.image_size
        image, note = load_for_model(args.init_image, h, model.channels)
        init = store_input(image)
        if not args.quiet:
            print(f"input image: {note}", file=sys.stderr)
    if args.sampler and model.samplers and args.sampler not in model.samplers:
        raise StudioError(f"{model.checkpoint.id} samples with {', '.join(model.samplers)}, not {args.sampler!r}.")
    base = default.with_(
        prompt=args.prompt, negative_prompt=args.negative_prompt, steps=args.steps,
        sampler=args.sampler or default.sampler, guidance=args.guidance, seed=args.seed, eta=args.eta, latent=latent,
        truncation=args.truncation, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
        init_image=init, strength=args.strength).validated()
    out = Path(args.out)
    images, metas = [], []
    done = 0
    while done < args.num:
        req = base.with_(seed=base.seed + done, batch_size=min(MAX_BATCH, args.num - done))
        frame = None
        for frame in tqdm(model.sample(req), unit="step", leave=False, disable=args.quiet):
            pass
        images.extend(frame.preview)
        metas.extend((req, i) for i in range(req.batch_size))
        done += req.batch_size
    if args.grid or (args.num == 1 and out.suffix.lower() == ".png"):
        if args.grid:
            save_grid(np.stack(images), out)
        else:
            save_png(out, images[0], *metas[0])
        written = [out]
    else:
        if out.suffix.lower() == ".png":
            raise StudioError("--num N writes N files: give --out a folder (or add --grid for one image).")
        out.mkdir(parents=True, exist_ok=True)
        written = [save_png(out / f"{req.seed}-{i:02d}.png", img, req, i) for img, (req, i) in zip(images, metas)]
    for p in written:
        print(p)
    return 0


def _models(args: argparse.Namespace) -> int:
    from ..store.registry import scan

    infos, problems = scan(family=args.family)
    print(f"{'id':28} {'family':14} {'dataset':16} path")
    for info in infos:
        print(f"{info.id:28} {info.family:14} {info.dataset:16} {info.path}")
    for msg in problems:
        print(f"skipped: {msg}", file=sys.stderr)
    return 0


def _common_train_args(p: argparse.ArgumentParser, *, steps: int, lr: float, precision: str) -> None:
    p.add_argument("--data", default="fashion-mnist", help="fashion-mnist, or faces (procedural) for a GAN")
    p.add_argument("--data-dir", help="folder with the IDX files (default: Debian's dataset-fashion-mnist)")
    p.add_argument("--out", required=True, help="output .safetensors path")
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--ema-decay", type=float, default=0.999)
    p.add_argument("--precision", choices=["bf16", "fp32"], default=precision)
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genstudio", description="Generative Studio, headless.")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="generate images from a prompt")
    g.add_argument("--prompt", default="", help="what to draw; empty samples unconditionally; "
                   "'a sneaker::0.7 | a sandal::0.3' blends prompts with those weights")
    g.add_argument("--negative-prompt", default="", help="what to steer away from")
    g.add_argument("--family", help="only accept a checkpoint of this family")
    g.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT, help="checkpoint id or .safetensors path")
    g.add_argument("--steps", type=int, default=50)
    g.add_argument("--sampler", choices=["ddim", "ddpm", "dpm++2m", "cached", "naive"],
                   help="diffusion: ddim (default), ddpm or dpm++2m; autoregressive: cached (default) or naive")
    g.add_argument("--eta", type=float, default=0.0, help="DDIM stochasticity (0 deterministic, 1 = DDPM)")
    g.add_argument("--guidance", type=float, default=3.0, help="classifier-free guidance scale")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--latent", help="VAE: decode this latent vector instead of drawing one from the prior: "
                   "numbers separated by spaces or commas, e.g. --latent=-0.5,1.25")
    g.add_argument("--truncation", type=float, default=1.0,
                   help="GAN: scale the seed's latent vector by this (0..1; lower is more typical, less varied)")
    g.add_argument("--temperature", type=float, default=1.0,
                   help="autoregressive: divide each position's logits by this (below 1: likelier values; 0: greedy)")
    g.add_argument("--top-k", type=int, default=0, help="autoregressive: draw among the k likeliest values (0: all)")
    g.add_argument("--top-p", type=float, default=1.0,
                   help="autoregressive: draw among the likeliest values holding this much probability (nucleus)")
    g.add_argument("--init-image", help="diffusion: start from this image (image-to-image, SDEdit)")
    g.add_argument("--strength", type=float, default=0.6,
                   help="with --init-image: how far to noise it (0 keeps it, 1 ignores it)")
    g.add_argument("--num", type=int, default=1, help="how many images")
    g.add_argument("--grid", action="store_true", help="write one grid image instead of N files")
    g.add_argument("--out", required=True, help="a .png file, or a folder with --num N")
    g.add_argument("--device", default="auto")
    g.add_argument("--quiet", action="store_true")
    g.set_defaults(func=_generate)

    m = sub.add_parser("models", help="list the registered checkpoints")
    m.add_argument("--family")
    m.set_defaults(func=_models)

    tr = sub.add_parser("train", help="train a model").add_subparsers(dest="what", required=True)
    d = tr.add_parser("diffusion", help="train a text-conditioned diffusion model")
    _common_train_args(d, steps=4000, lr=4e-4, precision="bf16")
    d.add_argument("--channels", type=int, default=32, help="U-Net base channels")
    d.set_defaults(func=_train_diffusion)
    v = tr.add_parser("vae", help="train a VAE (optionally prompt-conditioned)")
    _common_train_args(v, steps=10000, lr=1e-3, precision="fp32")
    v.add_argument("--latent-dim", type=int, default=2, help="size of the latent vector (2 gives a latent map)")
    v.add_argument("--beta", type=float, default=1.0, help="weight of the KL term (1 is the true ELBO)")
    v.add_argument("--captions", action="store_true", help="condition on caption embeddings (a conditional VAE)")
    v.set_defaults(func=_train_vae)
    gn = tr.add_parser("gan", help="train a GAN (spectral-norm critic, hinge loss, generator EMA)")
    _common_train_args(gn, steps=6000, lr=2e-4, precision="fp32")
    gn.set_defaults(data="fashion-mnist", batch_size=64)
    gn.add_argument("--z-dim", type=int, default=64)
    gn.add_argument("--width", type=int, default=64, help="channels of both networks")
    gn.add_argument("--loss", choices=["hinge", "nonsaturating"], default="hinge")
    gn.add_argument("--d-lr", type=float, help="the critic's learning rate (default: --lr)")
    gn.add_argument("--attribute-classifier", help="Faces: find attribute directions with this classifier")
    gn.set_defaults(func=_train_gan)
    pc = tr.add_parser("pixelcnn", help="train a Gated PixelCNN on binarised Fashion-MNIST (prompt-conditioned)")
    _common_train_args(pc, steps=2000, lr=2e-3, precision="bf16")
    pc.set_defaults(batch_size=64)
    pc.add_argument("--channels", type=int, default=32, help="features of each stack")
    pc.add_argument("--layers", type=int, default=7, help="gated layers after the first")
    pc.add_argument("--head", type=int, default=64, help="hidden units of the per-pixel output network")
    pc.add_argument("--no-captions", dest="captions", action="store_false", help="train an unconditional model")
    pc.set_defaults(func=_train_pixelcnn)
    vq = tr.add_parser("vqvae", help="train the VQ-VAE whose codes the image transformer writes")
    _common_train_args(vq, steps=3000, lr=1e-3, precision="fp32")
    vq.set_defaults(ema_decay=0.0)  # dead codes are restarted in place; an average would blur them
    vq.add_argument("--codes", type=int, default=128, help="codebook size")
    vq.add_argument("--code-dim", type=int, default=32)
    vq.add_argument("--hidden", type=int, default=64)
    vq.set_defaults(func=_train_vqvae)
    at = tr.add_parser("ar-transformer", help="train the image transformer over a VQ-VAE's codes, prompt as prefix")
    _common_train_args(at, steps=4000, lr=1e-3, precision="bf16")
    at.add_argument("--tokenizer", required=True, help="the VQ-VAE .safetensors from 'genstudio train vqvae'")
    at.add_argument("--dim", type=int, default=192)
    at.add_argument("--layers", type=int, default=4)
    at.add_argument("--heads", type=int, default=4)
    at.add_argument("--no-captions", dest="captions", action="store_false", help="train an unconditional model")
    at.set_defaults(func=_train_ar_transformer)
    fc = tr.add_parser("face-classifier", help="train the Faces attribute classifier")
    fc.add_argument("--out", required=True)
    fc.add_argument("--faces", type=int, default=20_000)
    fc.add_argument("--epochs", type=int, default=3)
    fc.add_argument("--seed", type=int, default=0)
    fc.add_argument("--quiet", action="store_true")
    fc.set_defaults(func=_train_face_classifier)
    from .eval import add_eval, add_train_classifier  # classifier training and quality metrics
    add_train_classifier(tr)
    add_eval(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # recorded on model cards as the command that reproduces them
    try:
        return args.func(args)
    except StudioError as e:
        print(f"genstudio: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genstudio: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
