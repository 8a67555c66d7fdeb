"""The seed's comparison table, measured: one column per loaded model, one row per characteristic
(quality, speed, training stability, control, facial manipulation, novelty, resource intensity).

Every cell holds a figure and how it was measured, or "n/a" and the reason. Quality, training and
attribute-edit figures are read from the model card (``genstudio eval ... --write-card`` measures
them); speed, novelty and resources are measured now. What a model can do is read from its declared
controls and capabilities, never from its family's name, so a family added later takes part as is."""
from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import DatasetMissingError, StudioError
from ..events import Progress
from ..families.base import Family
from ..request import MAX_BATCH, GenerationRequest
from . import resources
from .novelty import Novelty, TrainingImages, measure_novelty, training_images

QUALITY = "Quality: Frechet distance"
PRECISION_RECALL = "Quality: precision / recall"
ADHERENCE = "Quality: prompt adherence"
SPEED_1 = "Speed: batch 1"
SPEED_16 = f"Speed: batch {MAX_BATCH}"
STABILITY = "Training stability"
CONTROL = "Control over generation"
FACES = "Facial manipulation"
NOVELTY = "Novelty"
PARAMETERS = "Resources: parameters"
MACS = "Resources: MACs per image"
MEMORY = "Resources: peak memory"
TRAINING_TIME = "Resources: training time"
ROWS = (QUALITY, PRECISION_RECALL, ADHERENCE, SPEED_1, SPEED_16, STABILITY, CONTROL, FACES, NOVELTY,
        PARAMETERS, MACS, MEMORY, TRAINING_TIME)

NA = "n/a"
# The evaluation that writes a data set's quality figures to the card (its classifier judges that set).
EVAL_COMMANDS = {"fashion-mnist": "quality", "faces": "faces"}
# Short names of the capabilities that are controls a person uses (likelihood is a figure, not a control).
CAPABILITY_CONTROLS = {"decode": "latent sliders", "encode": "encode an image", "img2img": "start from an image",
                       "redraw": "redraw from a position"}


@dataclass
class Cell:
    value: str  # the figure as shown, or "n/a"
    number: float | None  # the figure to sort or plot by; None where there is none
    how: str  # how it was measured, or why it does not apply

    @classmethod
    def na(cls, reason: str) -> "Cell":
        return cls(NA, None, reason)

    @property
    def applies(self) -> bool:
        return self.value != NA

    @property
    def text(self) -> str:
        """The cell as one line: the figure, or "n/a: reason"."""
        return self.value if self.applies else f"{NA}: {self.how}"


@dataclass
class CompareTable:
    columns: list[str]  # one per model: its checkpoint id (numbered where one is compared twice)
    rows: dict[str, dict[str, Cell]]  # characteristic -> column -> cell
    settings: dict = field(default_factory=dict)  # what applies to every cell (device, threads, seed, ...)
    # Column -> the novelty check's samples and nearest training images, for a UI to show side by side.
    novelty: dict[str, Novelty] = field(default_factory=dict, repr=False, compare=False)

    def cell(self, row: str, column: str) -> Cell:
        return self.rows[row][column]

    def to_markdown(self) -> str:
        from .export import to_markdown

        return to_markdown(self)

    def to_csv(self) -> str:
        from .export import to_csv

        return to_csv(self)

    def to_json(self) -> str:
        from .export import to_json

        return to_json(self)


# --- reading the card -----------------------------------------------------------------------------
def _card(model: Family) -> dict:
    card = model.checkpoint.card
    return card if isinstance(card, dict) else {}


def _metrics(model: Family) -> dict:
    m = _card(model).get("metrics")
    return m if isinstance(m, dict) else {}


def _dataset(model: Family) -> str:
    name = model.checkpoint.config.get("dataset")
    return name if isinstance(name, str) else ""


def _dict(x: object) -> dict:
    """A card entry that should be a JSON object, or {} where it is not (a hand-edited card)."""
    return x if isinstance(x, dict) else {}


def _number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _run_hint(model: Family, command: str) -> str:
    return f"not measured (run genstudio eval {command} --checkpoint {model.checkpoint.id} --write-card)"


def _not_measured(model: Family) -> Cell:
    dataset = _dataset(model)
    command = EVAL_COMMANDS.get(dataset)
    if command is None:
        return Cell.na(f"no project classifier judges images of {dataset or 'its data set'} (the Frechet distance "
                       f"is measured on {' and '.join(EVAL_COMMANDS)})")
    return Cell.na(_run_hint(model, command))


def quality_cell(model: Family) -> Cell:
    q = _metrics(model).get("quality")
    if isinstance(q, dict) and _number(q.get("fid_face_classifier")):
        fd, floor, n = q["fid_face_classifier"], q.get("fid_face_classifier_real_vs_real_same_n"), \
            _dict(q.get("settings")).get("samples", "?")
        features = "the Faces attribute classifier's features"
    elif isinstance(q, dict) and _number(q.get("fid_classifier")):
        fd, floor, n = q["fid_classifier"], q.get("fid_classifier_train_vs_test_same_n"), \
            _dict(q.get("settings")).get("num_samples", "?")
        features = "the Fashion-MNIST classifier's features"
    else:
        return _not_measured(model)
    real = f", real {floor:.2f}" if _number(floor) else ""
    return Cell(f"{fd:.2f} (n={n}{real})", float(fd),
                f"Frechet distance in {features} between {n} samples and real test images (lower is better); "
                "'real': real images against the same reference at the same n, the floor; from the card")


def precision_recall_cell(model: Family) -> Cell:
    q = _metrics(model).get("quality")
    if not isinstance(q, dict):
        return _not_measured(model)
    if not (_number(q.get("precision")) and _number(q.get("recall"))):
        if EVAL_COMMANDS.get(_dataset(model)) == "quality":  # that evaluation measures them since they were added
            return Cell.na(_run_hint(model, "quality"))
        return Cell.na("not measured: the card's quality record has no precision and recall")
    real = q.get("precision_recall_real")
    floor = f" (real {real[0]:.2f}, {real[1]:.2f})" if isinstance(real, list) and len(real) == 2 and \
        all(_number(v) for v in real) else ""
    method = _dict(q.get("settings")).get("precision_recall")
    return Cell(f"precision {q['precision']:.2f}, recall {q['recall']:.2f}{floor}", float(q["precision"]),
                "precision: the share of samples inside the real images' feature manifold (realism); recall: the "
                "share of real images inside the samples' (variety); 'real': a second real sample's figures"
                + (f"; {method}" if isinstance(method, str) else "") + "; from the card")


def adherence_cell(model: Family) -> Cell:
    if "prompt" not in model.controls:
        return Cell.na(f"the {model.label} family takes no prompt")
    if not model.conditional:
        return Cell.na("this checkpoint was trained without prompts and ignores them")
    metrics = _metrics(model)
    ad, q = metrics.get("adherence"), metrics.get("quality")
    if isinstance(ad, dict) and _number(ad.get("overall")):
        s = _dict(ad.get("settings"))
        return Cell(f"{ad['overall']:.2f} GenEval-style", float(ad["overall"]),
                    f"share of {ad.get('images', '?')} images a procedural detector finds to show what the prompt asks "
                    f"(objects, counts, colours, positions), guidance {s.get('guidance', '?')}; from the card")
    if isinstance(q, dict) and _number(q.get("prompt_accuracy")):
        held = q.get("held_out_prompt_accuracy")
        extra = f", paraphrases {held:.1%}" if _number(held) else ""
        return Cell(f"{q['prompt_accuracy']:.1%} prompt accuracy{extra}", float(q["prompt_accuracy"]),
                    "share of samples made from a class prompt that the project classifier assigns to that class "
                    "(paraphrases: prompts never seen in training); from the card")
    return Cell.na(_run_hint(model, "adherence" if _dataset(model) == "shapes" else "quality"))


def _spread(values: Sequence[float]) -> str:
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.4g} ± {sd:.2g}"


def _stability_figures(record: object) -> dict[str, list[float]]:
    """A stability record as figure -> values over runs: either {"runs": [{figure: value, ...}, ...]}
    or {figure: [value, ...]}. Seeds and other labels are left out."""
    if not isinstance(record, dict):
        return {}
    runs = record.get("runs")
    figures: dict[str, list[float]] = {}
    if isinstance(runs, list):
        for run in runs:
            for key, value in (run.items() if isinstance(run, dict) else ()):
                if _number(value) and key != "seed":
                    figures.setdefault(key, []).append(float(value))
    else:
        for key, values in record.items():
            if isinstance(values, list) and len(values) > 1 and all(_number(v) for v in values):
                figures[key] = [float(v) for v in values]
    return {k: v for k, v in figures.items() if len(v) > 1}


def _loss_history(card: dict) -> list[float]:
    """The logged training loss, if the card keeps it: numbers, or (step, loss) pairs."""
    tr = _dict(card.get("training"))
    history = tr.get("loss_history", card.get("loss_history"))
    if not isinstance(history, list):
        return []
    values = [h[-1] if isinstance(h, (list, tuple)) and h else h for h in history]
    return [float(v) for v in values if _number(v)]


def stability_cell(model: Family) -> Cell:
    card = _card(model)
    figures = _stability_figures(card.get("stability", _metrics(model).get("stability")))
    if figures:
        runs = max(len(v) for v in figures.values())
        first = next(iter(figures.values()))
        return Cell("; ".join(f"{k.replace('_', ' ')} {_spread(v)}" for k, v in figures.items()),
                    statistics.stdev(first),
                    f"mean ± standard deviation over {runs} training runs (seeds or restarts); from the card")
    history = _loss_history(card)
    if len(history) >= 10:
        tail = history[-max(2, len(history) // 10):]
        return Cell(f"final loss {_spread(tail)}", statistics.stdev(tail),
                    f"one training run recorded: mean ± standard deviation of its last {len(tail)} logged losses; "
                    "no record of several seeds or restarts")
    if isinstance(card.get("training"), dict):
        steps = card["training"].get("steps_done", card["training"].get("steps", "?"))
        return Cell.na(f"one training run recorded ({steps} steps), with no loss history and no record of other "
                       "seeds or restarts")
    return Cell.na("the card records no training run")


def _attribute_names(model: Family) -> list[str]:
    """The named (not principal) directions of a model that declares attribute sliders."""
    if not (model.can("attributes") and model.can("decode")):
        return []
    return [n for n in model.basis.names if not n.startswith("PC")]


def control_cell(model: Family) -> Cell:
    controls, caps = model.controls, model.capabilities
    items = []
    if "prompt" in controls:
        items.append("prompt" if model.conditional else "prompt (ignored by this checkpoint)")
    items += [name.replace("_", " ") for name in ("negative_prompt", "steps", "guidance", "truncation")
              if name in controls]
    if model.samplers:
        items.append(f"sampler ({len(model.samplers)})")
    sharpening = [name.replace("_", "-") for name in ("temperature", "top_k", "top_p") if name in controls]
    if sharpening:
        items.append("/".join(sharpening))
    for cap in sorted(caps):
        if cap == "decode":
            items.append(f"latent sliders ({model.latent_dim}-D)")
        elif cap == "attributes":
            names = _attribute_names(model)
            if names:
                items.append(f"attribute edits ({', '.join(names)})")
        elif cap in CAPABILITY_CONTROLS:
            items.append(CAPABILITY_CONTROLS[cap])
    known = {"prompt", "negative_prompt", "steps", "guidance", "truncation", "sampler", "temperature", "top_k",
             "top_p", "seed", "batch", "latent"}
    items += sorted(c.replace("_", " ") for c in controls - known)  # a control added later shows by its name
    return Cell(", ".join(items) or "seed only", float(len(items)),
                "the family's declared controls and capabilities (studio.core.catalog), with what this checkpoint "
                "adds (whether it reads prompts, its latent size and named directions)")


def facial_cell(model: Family) -> Cell:
    if not model.info.can("attributes"):
        return Cell.na(model.info.refusal("attributes"))
    if not _attribute_names(model):
        return Cell.na("this checkpoint's latent sliders are principal directions, with no named attributes")
    metrics = _metrics(model)
    edits = metrics.get("attribute_edits")
    if not isinstance(edits, dict) or not edits:
        single = metrics.get("attribute_edit")
        edits = {single.get("attribute", "?"): single} if isinstance(single, dict) else {}
    edits = {k: e for k, e in edits.items() if isinstance(e, dict) and _number(e.get("change"))}
    if not edits:
        return Cell.na(_run_hint(model, "faces"))
    parts = []
    for name, e in edits.items():
        others = [v for v in _dict(e.get("others_change")).values() if _number(v)]
        parts.append(f"{name} {e['change']:+.2f}" + (f" (others {statistics.fmean(others):.2f})" if others else ""))
    head = metrics.get("attribute_edit")
    number = head["change"] if isinstance(head, dict) and _number(head.get("change")) else \
        next(iter(edits.values()))["change"]
    n = _dict(next(iter(edits.values())).get("settings")).get("latents", "?")
    return Cell("; ".join(parts), float(number),
                f"change of the Faces classifier's reading of each slider's own attribute from -3 to +3 over {n} "
                "latents, and in brackets the mean absolute change of the other attributes (entanglement); "
                "from the card")


def training_time_cell(model: Family) -> Cell:
    measured = resources.training_time(_card(model))
    if measured is None:
        return Cell.na("the card records no training run")
    seconds, how = measured
    shown = f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min" if seconds >= 60 \
        else f"{seconds:.0f} s"
    return Cell(shown, seconds, how)


CARD_ROWS: dict[str, Callable[[Family], Cell]] = {
    QUALITY: quality_cell, PRECISION_RECALL: precision_recall_cell, ADHERENCE: adherence_cell,
    STABILITY: stability_cell, CONTROL: control_cell, FACES: facial_cell, TRAINING_TIME: training_time_cell,
}


# --- measured now ---------------------------------------------------------------------------------
def _count(n: float, unit: str = "") -> str:
    for size, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if n >= size:
            return f"{n / size:.3g}{suffix}{unit}"
    return f"{n:.0f}{' ' + unit if unit else ''}"


def describe_request(model: Family, request: GenerationRequest) -> str:
    """What decides a model's cost in its request: sampler, steps and prompt, where it has them."""
    parts = [request.sampler] if model.samplers else []
    if "steps" in model.controls:
        parts.append(f"{request.steps} steps")
    if model.conditional:
        parts.append("empty prompt" if not request.prompt else f"prompt {request.prompt!r}")
    return ", ".join(parts) or "one pass"


def resource_cells(model: Family, request: GenerationRequest) -> dict[str, Cell]:
    params, how = resources.parameter_count(model)
    cells = {PARAMETERS: Cell(_count(params), float(params), how)}
    memory, how = resources.peak_memory(lambda: model.generate(request.with_(batch_size=1)), model.device)
    cells[MEMORY] = Cell(f"+{memory / 2**20:.1f} MiB", float(memory), f"making one image of its default request: {how}")
    macs = resources.flops_per_image(model, request) / 2
    cells[MACS] = Cell(_count(macs, "MACs"), macs,
                       "torch.utils.flop_counter.FlopCounterMode over one image of its default request at batch 1, "
                       "FLOPs / 2; it counts matrix products, convolutions and attention only") \
        if macs > 0 else Cell.na("the flop counter saw no matrix products or convolutions (the model does not "
                                 "compute with torch)")
    return cells


def speed_cells(model: Family, request: GenerationRequest, runs: int) -> dict[str, Cell]:
    from ..device import describe

    cells = {}
    for row, batch in ((SPEED_1, 1), (SPEED_16, MAX_BATCH)):
        ms = resources.ms_per_image(model, request, batch, runs)
        cells[row] = Cell(f"{ms:.3g} ms/image", ms,
                          f"wall time per image at batch {batch} of its default request: median of {runs} batches "
                          f"after one warm-up, on {describe(model.device)}")
    return cells


ImagesFor = Callable[[str, int], TrainingImages]


def novelty_cell(model: Family, request: GenerationRequest, n: int, images_for: ImagesFor
                 ) -> tuple[Cell, Novelty | None]:
    if n < 1:
        return Cell.na("not measured (no samples asked for)"), None
    dataset = _dataset(model)
    training = _card(model).get("training")
    train_seed = training.get("seed", 0) if isinstance(training, dict) else 0
    try:
        images = images_for(dataset, train_seed if isinstance(train_seed, int) else 0)
    except DatasetMissingError as e:
        return Cell.na(str(e)), None
    shape, data_shape = model.image_format.shape, images.train.shape[1:]
    if len(data_shape) == 2:
        data_shape = (*data_shape, 1)
    if tuple(shape) != tuple(data_shape):
        return Cell.na(f"the model makes {model.image_format.describe()} images, its data set's are "
                       f"{data_shape[1]}x{data_shape[0]} with {data_shape[2]} channel(s)"), None
    samples = model.generate_many(request, n)
    renderings: list[str] = []

    def shown(x: np.ndarray) -> np.ndarray:
        as_shown = model.as_shown(x, request.seed)
        if as_shown is None:
            return x
        renderings.append(as_shown[1])
        return as_shown[0]

    nov = measure_novelty(samples, images, shown)
    how = (f"pixel RMS distance in [0, 1] from each of {n} samples of its default request (seeds {request.seed}-"
           f"{request.seed + n - 1}) to its nearest of {images.what}; the ratio is the samples' median "
           "over the reference images' median: about 1 is as new as unseen real images, near 0 is copying")
    if renderings:
        how += f"; real images compared as the model shows its samples ({renderings[0]})"
    closest = f"median {nov.median:.3f} (closest {float(nov.distances.min()):.3f})"
    if not math.isfinite(nov.ratio):  # every reference image is a training image: there is nothing to divide by
        return Cell(f"{closest}; the reference images are all in the training set", nov.median, how), nov
    return Cell(f"{closest}, {nov.ratio:.2f}x the test images' {nov.reference_median:.3f}", nov.ratio, how), nov


def _unique(names: Sequence[str]) -> list[str]:
    """Column names: a checkpoint compared twice is numbered."""
    out: list[str] = []
    for name in names:
        label, k = name, 2
        while label in out:
            label, k = f"{name} ({k})", k + 1
        out.append(label)
    return out


def _guarded(measure: Callable[[], dict[str, Cell]], rows: Sequence[str]) -> dict[str, Cell]:
    """A measurement that fails with a StudioError leaves its cells n/a with the reason, not the table."""
    try:
        return measure()
    except StudioError as e:
        return {row: Cell.na(f"could not be measured: {e}") for row in rows}


def measure_table(models: Sequence[Family], *, num_novelty: int = 64, measure_speed: bool = True,
                  progress: Progress | None = None, seed: int = 0, speed_runs: int = 3, train_limit: int = 5000,
                  reference: int = 500, data_dir: str | None = None,
                  datasets: Mapping[str, TrainingImages | tuple[np.ndarray, np.ndarray]] | None = None
                  ) -> CompareTable:
    """Measure every characteristic of every model (a model's default request, at ``seed``).

    ``num_novelty``: samples for the novelty check (0: skip it); ``train_limit``: training images it
    searches (the first of the data set); ``reference``: unseen images for its reference; ``datasets``:
    training and test images by data-set name, used instead of loading them. ``progress`` is called as
    (what is being measured, parts done, parts in all)."""
    import torch

    from ..device import describe

    if not models:
        raise StudioError("Nothing to compare: give at least one checkpoint.")
    if num_novelty < 0 or speed_runs < 1:
        raise StudioError(f"The novelty samples must be 0 or more and the speed runs 1 or more "
                          f"(got {num_novelty} and {speed_runs}).")
    columns = _unique([m.checkpoint.id for m in models])
    rows: dict[str, dict[str, Cell]] = {row: {} for row in ROWS}
    loaded: dict[tuple[str, int], TrainingImages] = {}

    def images_for(dataset: str, train_seed: int) -> TrainingImages:
        if datasets is not None and dataset in datasets:
            given = datasets[dataset]
            return given if isinstance(given, TrainingImages) else TrainingImages(*given, f"the given {dataset} images")
        if (dataset, train_seed) not in loaded:
            loaded[dataset, train_seed] = training_images(dataset, limit=train_limit, reference=reference,
                                                          seed=train_seed, data_dir=data_dir)
        return loaded[dataset, train_seed]

    stages = ("resources", "speed", "novelty")
    total, done = len(models) * len(stages), 0
    novelty: dict[str, Novelty] = {}
    requests: dict[str, str] = {}
    for column, model in zip(columns, models):
        request = model.default_request().with_(seed=seed)
        requests[column] = describe_request(model, request)
        cells = {row: measure(model) for row, measure in CARD_ROWS.items()}
        for stage in stages:
            if progress is not None:
                progress(f"{column}: {stage}", done, total)
            if stage == "resources":
                cells |= _guarded(lambda: resource_cells(model, request), (PARAMETERS, MEMORY, MACS))
            elif stage == "speed":
                cells |= _guarded(lambda: speed_cells(model, request, speed_runs), (SPEED_1, SPEED_16)) \
                    if measure_speed else {r: Cell.na("not measured (speed measurement switched off)")
                                           for r in (SPEED_1, SPEED_16)}
            else:
                try:
                    cells[NOVELTY], nov = novelty_cell(model, request, num_novelty, images_for)
                except StudioError as e:
                    cells[NOVELTY], nov = Cell.na(f"could not be measured: {e}"), None
                if nov is not None:
                    novelty[column] = nov
            done += 1
        for row in ROWS:
            rows[row][column] = cells[row]
    if progress is not None:
        progress("done", total, total)
    settings = {"device": describe(models[0].device), "threads": torch.get_num_threads(), "torch": torch.__version__,
                "seed": seed, "novelty_samples": num_novelty, "speed_runs": speed_runs if measure_speed else 0,
                "default requests": requests}
    return CompareTable(columns, rows, settings, novelty)
