"""Training recipes: how each shipped model was trained, written once, as data readable without torch.

A recipe names a family and a data set, the options its task builder takes (architecture, loss, ...)
and the shared Trainer's settings (steps, batch size, learning rate, precision, EMA). The command line
takes its ``genstudio train`` defaults from them, the Training dock lists the ones marked ``studio``,
and both call the family's task builder with the recipe's options spelt out.

Each family keeps its recipes in ``<module>.recipes`` (a ``RECIPES`` sequence), found through its
CATALOG entry; a family without that module (a plugin, a test's toy family) may define ``RECIPES``
in its ``module`` itself, or have none.
"""
from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from typing import Any

from ..catalog import CATALOG
from ..errors import StudioError

# The Trainer's settings a recipe fixes (TrainConfig fields); steps are given apart, as the dock and
# ``--steps`` change them most often.
TRAINER_SETTINGS = ("batch_size", "lr", "precision", "ema_decay", "warmup")


@dataclass(frozen=True)
class Recipe:
    """How one model is trained: its family's task options and the Trainer's settings."""

    name: str  # the id of the model it makes (the shipped checkpoint it reproduces)
    family: str  # a CATALOG name
    dataset: str  # what the family's ``train_task`` is given
    label: str  # how the Training dock lists it
    command: str  # the ``genstudio train`` subcommand that runs it
    options: dict[str, Any] = field(default_factory=dict, hash=False)  # the task builder's own options
    steps: int = 1000
    batch_size: int = 128
    lr: float = 4e-4
    precision: str = "fp32"  # "bf16" autocast or "fp32"
    ema_decay: float = 0.999
    warmup: int = 200
    # Whether the task is given the shared prompt encoder; a ``captions`` option, where the builder
    # has one, decides instead.
    prompts: bool = False
    studio: bool = False  # listed in the Training dock
    # Trainer settings the task builder takes too (the data stream's batch size; a GAN's optimisers).
    shared: tuple[str, ...] = ("batch_size",)
    purpose: str = ""  # what the model it makes is for, beside its family's other models (shown on its card)

    def __post_init__(self) -> None:
        if self.precision not in ("bf16", "fp32"):
            raise ValueError(f"recipe {self.name!r}: precision must be bf16 or fp32, not {self.precision!r}")
        unknown = set(self.shared) - set(TRAINER_SETTINGS)
        if unknown:
            raise ValueError(f"recipe {self.name!r} shares unknown trainer settings: {sorted(unknown)}")

    def with_(self, **changes) -> "Recipe":
        """A copy with some settings changed: a Recipe field replaces it, any other name is a task option
        (``recipe.with_(steps=10, width=8)``); None leaves a setting as it is."""
        names = {f.name for f in dataclasses.fields(self)}
        fields = {k: v for k, v in changes.items() if k in names and v is not None}
        options = {k: v for k, v in changes.items() if k not in names and v is not None}
        if options:
            fields["options"] = {**fields.get("options", self.options), **options}
        return dataclasses.replace(self, **fields)

    def task_options(self) -> dict[str, Any]:
        """What the family's ``train_task`` takes from this recipe (besides the data set, the prompt
        encoder, and the run's data folder, limit, device, seed and command)."""
        return {**self.options, **{k: getattr(self, k) for k in self.shared}}

    def trainer_settings(self) -> dict[str, Any]:
        """TrainConfig fields, but ``steps`` and the run's logging and saving intervals."""
        return {k: getattr(self, k) for k in TRAINER_SETTINGS}

    @property
    def reads_prompts(self) -> bool:
        """Whether the task builder is given the prompt encoder."""
        return bool(self.options.get("captions", self.prompts))


def _family_recipes(family: str) -> list[Recipe]:
    info = CATALOG.get(family)
    if info is None:
        raise StudioError(f"Unknown model family {family!r}; known: {', '.join(sorted(CATALOG))}.")
    if not info.module:
        return []
    try:
        module = importlib.import_module(f"{info.module}.recipes")
    except ModuleNotFoundError as e:
        if e.name not in (f"{info.module}.recipes", info.module):
            raise  # the recipes module exists but imports something missing
        try:
            module = importlib.import_module(info.module)
        except ModuleNotFoundError as e2:
            if e2.name != info.module:
                raise
            return []
    recipes = list(getattr(module, "RECIPES", ()))
    for r in recipes:
        if not isinstance(r, Recipe) or r.family != family:
            raise StudioError(f"{module.__name__}.RECIPES holds {r!r}, which is not a recipe of the {family} family.")
    return recipes


def recipes_for(family: str) -> list[Recipe]:
    """The recipes of ``family`` (a CATALOG name), its default for each command and data set first."""
    return _family_recipes(family)


def all_recipes() -> list[Recipe]:
    """Every family's recipes, in catalog order; names are unique."""
    found: list[Recipe] = []
    seen: set[str] = set()
    for family in list(CATALOG):
        for r in _family_recipes(family):
            if r.name in seen:
                raise StudioError(f"Two recipes are named {r.name!r}.")
            seen.add(r.name)
            found.append(r)
    return found


def find_recipe(name: str) -> Recipe:
    """A recipe by name (or by the label the Training dock shows)."""
    recipes = all_recipes()
    for r in recipes:
        if name in (r.name, r.label):
            return r
    raise StudioError(f"No recipe named {name!r}; known: {', '.join(r.name for r in recipes) or 'none'}.")


def recipe_purpose(name: str) -> str:
    """What the model a recipe makes is for ("" for a model no recipe makes, or a broken recipes module)."""
    try:
        return next((r.purpose for r in all_recipes() if r.name == name), "")
    except (StudioError, ImportError):
        return ""


def studio_recipes() -> list[Recipe]:
    """The recipes the Training dock offers."""
    return [r for r in all_recipes() if r.studio]


def command_recipes(command: str) -> list[Recipe]:
    """The recipes a ``genstudio train`` subcommand runs; the first is its default."""
    return [r for r in all_recipes() if r.command == command]


def recipe_for(command: str, dataset: str | None = None) -> Recipe:
    """The recipe ``genstudio train COMMAND --data DATASET`` starts from: the command's recipe for that
    data set, else its default one given that data set (its family then says if it knows it)."""
    recipes = command_recipes(command)
    if not recipes:
        raise StudioError(f"No recipe trains with 'genstudio train {command}'.")
    if dataset is None:
        return recipes[0]
    for r in recipes:
        if r.dataset == dataset:
            return r
    return recipes[0].with_(dataset=dataset)
