"""Builds the GAN TrainTask for the shared trainer: a custom step with two optimisers (critic then
generator, one update each), logging both losses and the critic's mean logits on real, D(x), and
generated images, D(G(z)), so instability and collapse are visible while it trains.

Options beyond the DCGAN baseline, each off by default: DiffAugment on everything the critic sees
(``diffaugment``), a lazy R1 penalty on real images (``r1``), a critic learning rate of its own
(``d_lr``: two time-scale updates), and a StyleGAN mapping network z -> w (``mapping``), in which case
the shipped slider basis lives in W (see family.py)."""
from __future__ import annotations

import numpy as np
import torch

from ...data import fashion_mnist
from ...data.batches import captioned_batches
from ...errors import StudioError
from ...latent_space.basis import LatentBasis
from ...latent_space.family import basis_tensors, prior_latents
from ...pixels import from_signed
from ...training.trainer import TrainTask
from .augment import diff_augment
from .config import check_training_options, parse_diffaugment
from .model import GAN, GANConfig, Generator, discriminator_loss, generator_loss, r1_penalty

DATASETS = ("fashion-mnist", "faces")
PCS = 8  # GANSpace directions shipped as sliders
EDITS = ("smile", "eyes_open", "glasses", "head_size")  # attribute sliders of a Faces GAN
R1_EVERY = 16  # lazy R1 (StyleGAN2): the penalty on every 16th critic step, weighted by 16
# The mapping network learns at this fraction of the generator's rate: StyleGAN's 0.01, raised since
# these runs take thousands of steps, not StyleGAN's hundreds of thousands.
MAPPING_LR_MUL = 0.1
W_SAMPLES = 4000  # draws of w for its mean (truncation's centre) and its principal directions


def load_images(dataset: str, data_dir: str | None, limit: int | None, seed: int) -> np.ndarray:
    """Training images, (N, H, W) or (N, H, W, 3) uint8."""
    if dataset == "fashion-mnist":
        return fashion_mnist.load("train", data_dir, limit=limit).images
    if dataset == "faces":
        from ...data.faces import make_faces

        return make_faces(limit or 20_000, seed)[0]
    raise StudioError(f"Unknown data set {dataset!r}; the GAN trainer knows: {', '.join(DATASETS)}.")


@torch.no_grad()
def mapped_latents(generator: Generator, z_dim: int, n: int = W_SAMPLES, seed: int = 1) -> np.ndarray:
    """(n, z_dim) w = mapping(z) of seeded draws of z (z itself without a mapping network)."""
    was = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))
    w = torch.cat([generator.map(z[s:s + 500].to(device)).float().cpu() for s in range(0, n, 500)]).numpy()
    generator.train(was)
    return w


@torch.no_grad()
def ganspace(generator, z_dim: int, k: int = PCS, n: int = 4000, seed: int = 1) -> LatentBasis:
    """GANSpace (Harkonen et al. 2020) for a GAN without a mapping network: principal components of
    the first layer's activations, carried back to z by least squares, then orthonormalised."""
    was = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))
    feats = generator.features(z.to(device)).float().cpu().numpy()
    generator.train(was)
    pcs = LatentBasis.principal(feats, k)
    coords = (feats - pcs.origin) @ pcs.directions.T / pcs.scales  # (n, k), unit variance each
    v, *_ = np.linalg.lstsq(coords, z.numpy(), rcond=None)  # z ~ coords @ v: row j is PC j's direction in z
    q, _ = np.linalg.qr(v.T)  # orthonormal, same span and order
    directions = (q.T * np.sign(np.sum(q.T * v, axis=1, keepdims=True))).astype(np.float32)
    return LatentBasis([f"PC{i + 1}" for i in range(k)], directions, np.zeros(z_dim, np.float32),
                       np.ones(k, np.float32), pcs.explained)


def lowdin(vectors: np.ndarray) -> np.ndarray:
    """The orthonormal set closest to ``vectors`` (rows): (V V^T)^(-1/2) V. Unlike Gram-Schmidt it
    favours no row, so every attribute direction stays as close to its own boundary normal."""
    w, u = np.linalg.eigh(vectors @ vectors.T)
    return (u @ np.diag(w ** -0.5) @ u.T @ vectors).astype(np.float32)


@torch.no_grad()
def attribute_directions(generator, classifier, z_dim: int, n: int = 6000, seed: int = 2
                         ) -> tuple[np.ndarray, dict[str, float]]:
    """InterFaceGAN (Shen et al. 2020) with conditional manipulation: generate faces, let the
    classifier label them, and fit a linear model of each attribute on the generator's latent (w with
    a mapping network, else z). An edit direction is its attribute's normal with every other
    attribute's normal projected out, the categorical ones (skin, hair, background: one normal per
    class) included, so moving it leaves them as they are.
    Returns (len(EDITS), z_dim) orthonormal rows and each edited attribute's linear-fit R^2."""
    from ...data.faces import ATTRIBUTES

    w = mapped_latents(generator, z_dim, n, seed)
    was = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    images = np.concatenate([from_signed(generator.synthesis(torch.from_numpy(w[s:s + 500]).to(device)))
                             for s in range(0, n, 500)])
    generator.train(was)
    _, preds = classifier.embed(images)
    x = np.concatenate([w, np.ones((n, 1), np.float32)], axis=1)

    def normal(y: np.ndarray) -> tuple[np.ndarray, float]:
        w, *_ = np.linalg.lstsq(x, y.astype(np.float64), rcond=None)
        r2 = float(1 - np.var(y - x @ w) / max(np.var(y), 1e-12))
        return w[:-1] / max(np.linalg.norm(w[:-1]), 1e-12), r2

    edits, fits = {}, {}
    for name in EDITS:
        edits[name], fits[name] = normal(preds[name])
    nuisance = [normal((preds[a.name] == k).astype(np.float64))[0]
                for a in ATTRIBUTES if a.kind == "categorical" for k in range(a.classes)]
    rows = []
    for name in EDITS:
        others = np.stack([v for k, v in edits.items() if k != name] + nuisance)
        q, _ = np.linalg.qr(others.T)  # an orthonormal basis of what must not change
        d = edits[name] - q @ (q.T @ edits[name])
        rows.append(d / np.linalg.norm(d))
    return lowdin(np.stack(rows)), fits


def _critic_steps(opt: torch.optim.Optimizer) -> int:
    """Steps the critic's Adam has taken: kept in its state, so the lazy R1 schedule survives a resume."""
    state = opt.state.get(opt.param_groups[0]["params"][0], {})
    return int(state.get("step", 0))


def gan_task(dataset: str, *, batch_size: int = 64, data_dir: str | None = None, limit: int | None = None,
             device: str = "cpu", seed: int = 0, command: str = "", z_dim: int = 64, width: int = 64,
             loss: str = "hinge", lr: float = 2e-4, d_lr: float | None = None, diffaugment: str = "",
             r1: float = 0.0, mapping: int = 0, attribute_classifier: str | None = None) -> TrainTask:
    check_training_options(r1=r1, mapping=mapping, d_lr=d_lr)
    images = load_images(dataset, data_dir, limit, seed)
    size, channels = images.shape[1], (1 if images.ndim == 3 else images.shape[3])
    policy = parse_diffaugment(diffaugment, channels)
    cfg = GANConfig(image_size=size, channels=channels, z_dim=z_dim, g_channels=width, d_channels=width, loss=loss,
                    mapping=mapping)
    clf = None
    if attribute_classifier:
        if dataset != "faces":
            raise StudioError("Attribute directions need the Faces data set (--data faces).")
        from ...evaluation.face_classifier import load_face_classifier

        clf = load_face_classifier(attribute_classifier, device)
    names = ([n.replace("_", " ") for n in EDITS] if clf else []) + [f"PC{i + 1}" for i in range(PCS)]
    recipe = {"loss": loss, "discriminator": "spectral norm on every layer",
              "optimiser": "Adam(0.5, 0.999), one critic step per generator step",
              "generator_ema": "decay from --ema-decay", "lr_g": lr, "lr_d": d_lr or lr,
              "diffaugment": ",".join(policy) or "none", "r1_gamma": r1, "mapping_layers": mapping}
    if r1:
        recipe["r1_every"] = R1_EVERY
    if mapping:
        recipe["mapping_lr_mul"] = MAPPING_LR_MUL
    config = {"gan": cfg.to_dict(), "dataset": dataset, "latent_basis_names": names,
              "latent_basis_kind": "attributes+pcs" if clf else "pcs", "recipe": recipe}
    model = GAN(cfg)

    def optimizers(m: GAN) -> list[torch.optim.Optimizer]:
        mapper = list(m.generator.mapping.parameters()) if m.generator.mapping is not None else []
        rest = [p for p in m.generator.parameters() if all(p is not q for q in mapper)]
        groups = [{"params": rest}] + ([{"params": mapper, "lr": lr * MAPPING_LR_MUL}] if mapper else [])
        return [torch.optim.Adam(groups, lr=lr, betas=(0.5, 0.999)),
                torch.optim.Adam(m.discriminator.parameters(), lr=d_lr or lr, betas=(0.5, 0.999))]

    last_r1 = 0.0  # the latest measured penalty, logged on the steps between

    def step(m: GAN, batch, opts, autocast) -> dict[str, float]:
        nonlocal last_r1
        x, _ = batch
        g_opt, d_opt = opts

        def critic(images: torch.Tensor) -> torch.Tensor:  # sees real and generated images alike
            return m.discriminator(diff_augment(images, policy) if policy else images)

        regularise = r1 > 0 and _critic_steps(d_opt) % R1_EVERY == 0
        z = torch.randn(len(x), cfg.z_dim, device=x.device)
        with autocast():
            fake = m.generator(z)
            if regularise:
                penalty, d_real = r1_penalty(critic, x)
            else:
                d_real = critic(x)
            d_fake = critic(fake.detach())
            d_loss = discriminator_loss(d_real.float(), d_fake.float(), loss)
        d_opt.zero_grad(set_to_none=True)
        if regularise:
            last_r1 = float(penalty.detach())
            (d_loss + (r1 / 2 * R1_EVERY) * penalty).backward()
        else:
            d_loss.backward()
        d_opt.step()
        with autocast():
            g_loss = generator_loss(critic(fake).float(), loss)
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        figures = {"loss": float(d_loss.detach() + g_loss.detach()), "d_loss": float(d_loss.detach()),
                   "g_loss": float(g_loss.detach()), "d_real": float(d_real.detach().float().mean()),
                   "d_fake": float(d_fake.detach().float().mean())}
        return figures | ({"r1": last_r1} if r1 else {})

    fixed = torch.from_numpy(prior_latents(seed, 36, z_dim))

    @torch.no_grad()
    def samples(ema: GAN) -> np.ndarray:
        return from_signed(ema.generator.eval()(fixed.to(next(ema.parameters()).device)))

    def finalize(ema: GAN) -> dict[str, torch.Tensor]:
        gen, shipped = ema.generator, {}
        if cfg.mapping:  # the sliders live in W: principal directions of w itself, centred on its mean
            w = mapped_latents(gen, z_dim)
            pcs = LatentBasis.principal(w, PCS)
            gen.mapping.w_avg.copy_(torch.from_numpy(pcs.origin))
            shipped["ema.mapping.w_avg"] = gen.mapping.w_avg.detach().cpu().clone()
        else:
            pcs = ganspace(gen, z_dim)
        if clf is None:
            return shipped | basis_tensors(pcs)
        attrs, fits = attribute_directions(gen, clf, z_dim)
        # The principal directions, made orthogonal to the attribute ones (which stay as they are);
        # as many as the latent has room for beside them.
        top = pcs.directions[:z_dim - len(attrs)]
        q, _ = np.linalg.qr(np.concatenate([attrs, top]).T)
        rest = q.T[len(attrs):] * np.sign(np.sum(q.T[len(attrs):] * top, axis=1, keepdims=True))
        dirs = np.concatenate([attrs, rest]).astype(np.float32)
        if cfg.mapping:  # a unit of every slider is one standard deviation of w along it, as in z
            origin, scales = pcs.origin, np.std((w - pcs.origin) @ dirs.T, axis=0).astype(np.float32)
        else:
            origin, scales = np.zeros(z_dim, np.float32), np.ones(len(dirs), np.float32)
        card["attribute_directions"] = {
            "method": "InterFaceGAN with conditional manipulation: a least-squares fit of each attribute "
                      f"(as the classifier predicts it) on {'w' if cfg.mapping else 'z'} over 6000 samples; each "
                      "edit normal has the other attributes' normals (categorical: one per class) projected out; "
                      "then made orthonormal (Lowdin)",
            "classifier": attribute_classifier, "fit_r2": {k: round(v, 4) for k, v in fits.items()}}
        return shipped | basis_tensors(LatentBasis(names[:len(dirs)], dirs, origin, scales))

    card = {"data": {"dataset": dataset,
                     "split": "train" if dataset == "fashion-mnist" else f"procedural, seed {seed}",
                     "images": int(len(images))},
            "recipe": config["recipe"], "reproduce": command}
    return TrainTask(
        family="gan", model=model, config=config, loss=lambda *_: torch.zeros(()),
        batches=captioned_batches(images, np.zeros(len(images), np.int64), None, batch_size,
                                  device=device, seed=seed),
        samples=samples, finalize=finalize, optimizers=optimizers, step=step,
        shipped=lambda ema: ema.generator, card=card)
