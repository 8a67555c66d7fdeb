"""What an installed Generative Studio ships besides its code, as package data: the checkpoints,
classifiers and tokenizers (``checkpoints/``, ``classifiers/``, ``tokenizers/``, from the repository's
``resources/``) and the app's icons (``icons/``, from ``packaging/linux/icons/``).

Read them through ``studio.store.paths`` (``resources_dir()``, ``icon_file()``), which falls back to
the repository's folders in an editable install. The mapping is in the repository's ``setup.py``."""
