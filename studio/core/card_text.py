"""Model cards as text: one renderer for the Model panel (HTML) and the command line (plain text).

A card (the JSON beside a checkpoint) is turned into a header and sections of rows, each row one
line of figures; ``to_html`` and ``to_text`` only lay them out. Torch-free: the studio lists models
before any model code is loaded. Each metric kind a card may hold has one function here; a kind it
does not know is left out, and a malformed one is named rather than breaking the panel.
"""
from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    text: str
    code: str = ""  # a command, shown in a code font after the text
    small: bool = False  # a footnote (the HTML shows it small)


@dataclass(frozen=True)
class Section:
    title: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class CardText:
    title: str
    subtitle: str = ""
    sections: tuple[Section, ...] = ()

    def section(self, title: str) -> Section | None:
        return next((s for s in self.sections if s.title == title), None)

    def lines(self) -> list[str]:
        head = f"{self.title} — {self.subtitle}" if self.subtitle else self.title
        out = [head] if head else []
        for s in self.sections:
            out.append(s.title)
            out += ["  " + " ".join(p for p in (r.text, r.code) if p) for r in s.rows]
        return out

    def to_text(self) -> str:
        return "\n".join(self.lines())

    def to_html(self) -> str:
        """Compact: the header in bold, then one line per row (the section titles are left out)."""
        e = _escape
        head = f"<b>{e(self.title)}</b>" + (f" — {e(self.subtitle)}" if self.subtitle else "")
        rows = [head] if self.title or self.subtitle else []
        for s in self.sections:
            for r in s.rows:
                line = e(r.text) + (f"{' ' if r.text else ''}<code>{e(r.code)}</code>" if r.code else "")
                rows.append(f"<small>{line}</small>" if r.small else line)
        return "<br>".join(rows)


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


# --- one function per metric kind: (its figures, detail) -> rows ------------------------------------
def _quality(q: dict, detail: bool) -> list[Row]:
    if "fid_face_classifier" in q:
        return [Row(f"Faces-classifier FD {q['fid_face_classifier']:.2f} "
                    f"(real faces: {q['fid_face_classifier_real_vs_real_same_n']:.2f})")]
    fd = (f"classifier FD {q['fid_classifier']:.2f} "
          f"(real data: {q.get('fid_classifier_train_vs_test_same_n', float('nan')):.2f})")
    if q.get("prompt_accuracy") is None:
        rows = [Row(f"unconditional; {fd}")]
    else:
        rows = [Row(f"prompt accuracy {q['prompt_accuracy']:.1%} (paraphrases "
                    f"{q.get('held_out_prompt_accuracy') or 0:.1%}); {fd}")]
    if q.get("precision") is not None:
        real = q.get("precision_recall_real")
        rows.append(Row(f"precision {q['precision']:.2f}, recall {q['recall']:.2f}"
                        + (f" (real data: {real[0]:.2f}, {real[1]:.2f})" if real else "")))
    b = q.get("real_reference")
    if b:
        rows.append(Row(f"real test images shown the same way ({b['what']}): {b['accuracy']:.1%} accuracy, "
                        f"FD {b['fid_classifier_same_n']:.2f}"))
    s = q.get("settings") or {}
    if detail and "classifier_test_accuracy" in q:
        rows.append(Row(f"judged by {s.get('classifier', 'the classifier')} (test accuracy "
                        f"{q['classifier_test_accuracy']:.3f})" + (f", {s['num_samples']} samples"
                                                                    if "num_samples" in s else "")))
    return rows


def _attribute_edit(ed: dict, detail: bool) -> list[Row]:
    worst = max(ed["others_change"].items(), key=lambda kv: kv[1])
    return [Row(f"{ed['attribute']} slider −3→+3: {ed['attribute']} score {ed['mean_score'][0]:.2f} → "
                f"{ed['mean_score'][-1]:.2f}{' (monotonic)' if ed['monotonic'] else ''}; largest other "
                f"change: {worst[0]} {worst[1]:.3f}")]


def _likelihood(lk: dict, detail: bool) -> list[Row]:
    s = lk.get("settings") or {}
    grey = s.get("binarization") == "none"  # a grey-level model, scored on the test split's own levels
    test = (f"{s['test_images']} {'grey' if grey else 'binarised'} test images, condition: {s.get('condition', '?')}"
            if s else "")
    if "test_nll_nats" in lk:  # autoregressive: exact (PixelCNN) or a bound through the VQ-VAE
        kind = "exact" if lk.get("exact") else "upper bound"
        if not detail:
            return [Row(f"test NLL {lk['test_nll_nats']:.1f} nats = {lk['test_nll_bits_per_dim']:.3f} bits/dim "
                        f"({kind}, {'grey' if grey else 'binarised'} Fashion-MNIST)")]
        rows = [Row(f"{s['arch']}: {test}" if "arch" in s else test)] if test else []
        rows.append(Row(f"NLL ({kind})  {lk['test_nll_nats']:10.2f} nats  ({lk['test_nll_bits_per_dim']:.4f} bits/dim)"))
        if not lk.get("exact"):
            rows += [Row(f"  codes       {lk['codes_nll_nats']:10.2f} nats  ({lk['codes_bits_per_code']:.3f} bits/code)"),
                     Row(f"  decoder     {lk['decoder_nll_nats']:10.2f} nats  (-log p(x | codes))")]
        return rows
    if not detail:
        return [Row(f"test NLL {lk['test_nll_iwae_nats']:.1f} nats (IWAE k={lk['iwae_k']}), "
                    f"ELBO {lk['test_elbo_nats']:.1f}, reconstruction MSE {lk['reconstruction_mse']:.4f}, "
                    f"active units {lk.get('active_units', '?')} of {lk.get('latent_dim', '?')}")]
    rows = [Row(test)] if test else []
    iwae = f"NLL (IWAE, k={lk['iwae_k']})"
    rows += [Row(f"{'ELBO':26}{lk['test_elbo_nats']:10.2f} nats"),
             Row(f"{iwae:26}{lk['test_nll_iwae_nats']:10.2f} nats ({lk['test_nll_iwae_bits_per_dim']:.4f} bits/dim)")]
    if "reconstruction_bce_nats" in lk:
        rows.append(Row(f"{'reconstruction':26}{lk['reconstruction_bce_nats']:10.2f} nats, "
                        f"MSE {lk['reconstruction_mse']:.4f}"))
    if "active_units" in lk:
        rows.append(Row(f"{'active latent units':26}{lk['active_units']:10d} of {lk['latent_dim']}"))
    return rows


def _adherence(ad: dict, detail: bool) -> list[Row]:
    guidance = (ad.get("settings") or {}).get("guidance", "?")
    if not detail:
        tasks = ", ".join(f"{t.replace('_', ' ')} {v:.2f}" for t, v in ad["tasks"].items())
        return [Row(f"prompt adherence {ad['overall']:.2f} (GenEval-style, guidance {guidance}): {tasks}")]
    rows = [Row(f"{'task':14} {'correct':>8}")]
    rows += [Row(f"{task:14} {acc:8.3f}") for task, acc in ad["tasks"].items()]
    rows.append(Row(f"{'overall':14} {ad['overall']:8.3f}   (GenEval-style, guidance {guidance}"
                    + (f", {ad['images']} images" if "images" in ad else "") + ")"))
    return rows


def _sampling_speed(sp: dict, detail: bool) -> list[Row]:
    return [Row(f"{sp['cached_seconds_per_image']:.2f} s per image cached, {sp['speedup']:.0f}x faster than "
                f"the naive loop ({sp['naive_seconds_per_image']:.1f} s), batch {sp['batch']} on {sp['device']}")]


def _video(v: dict, detail: bool) -> list[Row]:
    real = v.get("real", {})
    names = (("motion_adherence", "motion"), ("object_adherence", "object"), ("colour_adherence", "colour"),
             ("temporal_consistency", "consistency"), ("consistent_clips", "clips >= 90% consistent"))
    if not detail:
        shown = ", ".join(f"{label} {v[key]:.2f}" for key, label in names if v.get(key) is not None)
        return [Row(f"clips: {shown}; frame FD {v['fd_frames']:.2f} (real clips {real.get('fd_frames', 0):.2f})")]
    rows = [Row(f"{'':26}{'model':>8}{'real':>8}")]
    rows += [Row(f"{label:26}{v[key]:8.3f}{real.get(key, float('nan')):8.3f}") for key, label in names
             if v.get(key) is not None]
    rows.append(Row(f"{'frame FD':26}{v['fd_frames']:8.2f}{real.get('fd_frames', float('nan')):8.2f}"))
    per_motion = v.get("motion_adherence_per_motion", {})
    if per_motion:
        rows.append(Row("motion adherence by motion: " + ", ".join(f"{m} {a:.2f}" for m, a in per_motion.items())))
    return rows


# Metric key on the card -> (section title, renderer), in the order they are shown.
METRICS: dict[str, tuple[str, Callable[[dict, bool], list[Row]]]] = {
    "quality": ("Quality", _quality),
    "attribute_edit": ("Attribute edit", _attribute_edit),
    "likelihood": ("Likelihood", _likelihood),
    "adherence": ("Prompt adherence", _adherence),
    "sampling_speed": ("Sampling speed", _sampling_speed),
    "video": ("Video", _video),
}


def metric_sections(metrics: dict, *, detail: bool = False) -> list[Section]:
    """The sections of the metric kinds this module knows, in METRICS order."""
    sections = []
    for key, (title, render) in METRICS.items():
        figures = metrics.get(key) if isinstance(metrics, dict) else None
        if not figures or not isinstance(figures, dict):
            continue
        try:
            rows = render(figures, detail)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            rows = [Row(f"(the card's {key} figures are incomplete: {type(e).__name__} {e})")]
        sections.append(Section(title, tuple(rows)))
    return sections


def render_card(card: dict, *, title: str = "", family: str = "", dataset: str = "",
                detail: bool = False) -> CardText:
    """A card's header (title, family, data set), training run, figures and reproducing command.
    ``title``/``family``/``dataset`` default to the card's own; ``detail`` gives the longer tables
    (the command line's)."""
    card = card if isinstance(card, dict) else {}
    data = card.get("data") if isinstance(card.get("data"), dict) else {}
    config = card.get("config") if isinstance(card.get("config"), dict) else {}
    title = title or card.get("title") or card.get("id") or "?"
    family = family or card.get("family") or "?"
    dataset = dataset or data.get("dataset") or config.get("dataset") or "?"
    sections: list[Section] = []
    purpose = card.get("purpose") or _purpose(card.get("id"))
    if purpose:
        sections.append(Section("Purpose", (Row(str(purpose)),)))
    t = card.get("training")
    if isinstance(t, dict) and t:
        sections.append(Section("Training", (Row(f"trained {t.get('steps_done', '?')} steps in "
                                                 f"{t.get('seconds', '?')} s on {t.get('device', '?')}"),)))
    recipe = card.get("recipe")
    if isinstance(recipe, dict) and recipe:
        sections.append(Section("Recipe", (Row(_recipe_line(recipe)),)))
    sections += metric_sections(card.get("metrics") or {}, detail=detail)
    if card.get("reproduce"):
        sections.append(Section("Reproduce", (Row("reproduce:", str(card["reproduce"]), small=True),)))
    return CardText(title, f"{family}, data: {dataset}", tuple(sections))


def _purpose(model_id: object) -> str:
    """What the recipe that makes ``model_id`` says the model is for."""
    from .training.recipes import recipe_purpose

    return recipe_purpose(model_id) if isinstance(model_id, str) else ""


def _recipe_line(recipe: dict) -> str:
    """A diffusion recipe as 'U-Net, pooled vector + token cross-attention, predicts v, min-SNR-5 loss; warm
    start from X (3000 steps)'; any other family's as its settings, 'loss: hinge; lr g: 0.0002'."""
    if "prediction" not in recipe:
        return "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in recipe.items() if not isinstance(v, (dict, list)))
    arch = {"unet": "U-Net", "dit": "DiT"}.get(str(recipe.get("arch")), str(recipe.get("arch", "?")))
    parts = [arch, str(recipe.get("text", "")), f"predicts {recipe.get('prediction', '?')}",
             f"{recipe.get('loss_weighting', '?')} loss"]
    line = ", ".join(p for p in parts if p)
    start = recipe.get("warm_start")
    if isinstance(start, dict):
        line += f"; warm start from {start.get('checkpoint', '?')} ({start.get('steps', '?')} steps)"
    return line


def render_metrics(key: str, figures: dict, *, title: str = "", detail: bool = True) -> CardText:
    """One metric kind's figures on their own (what an ``eval`` command prints)."""
    return CardText(title, "", tuple(metric_sections({key: figures}, detail=detail)))
