"""The wheel's packages; everything else about the build is in pyproject.toml.

``resources/`` stays at the repository root (training writes its checkpoints there and many tools
name those paths); the wheel carries it, and the app's icons, as the package ``studio_resources``,
which ``studio.store.paths`` reads through importlib.resources. pyproject.toml cannot declare this:
its package discovery cannot give a folder another package name."""
from setuptools import find_packages, setup

SHIPPED = {  # folder of studio_resources in the wheel -> where it is in the repository, and what of it ships
    "checkpoints": ("resources/checkpoints", ["*.safetensors", "*.json"]),
    "classifiers": ("resources/classifiers", ["*.safetensors", "*.json"]),
    "tokenizers": ("resources/tokenizers", ["*.safetensors", "*.json"]),
    "icons": ("packaging/linux/icons", ["*.svg", "*.png"]),
}

setup(
    packages=find_packages(include=["studio", "studio.*"]) + ["studio_resources"]
    + [f"studio_resources.{name}" for name in SHIPPED],
    package_dir={"studio_resources": "packaging/studio_resources"}
    | {f"studio_resources.{name}": folder for name, (folder, _) in SHIPPED.items()},
    package_data={f"studio_resources.{name}": patterns for name, (_, patterns) in SHIPPED.items()},
    # a training's resumable state is not a model, and is never shipped
    exclude_package_data={f"studio_resources.{name}": ["*.state.safetensors"] for name in SHIPPED},
)
