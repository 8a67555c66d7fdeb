"""Stable Diffusion 1.x/2.x models the user already has: a diffusers folder or a single .safetensors
file, read from local disk only, run by the studio's own samplers with a live preview.

``sources`` describes a pipeline on disk without torch (listing stays instant), ``configs`` holds the
SD 1.x/2.x architectures a single file is recognised as, ``components`` builds the networks
(diffusers and transformers, the optional "pipelines" extra, imported only here), ``family`` is the
Family. Nothing here downloads anything."""
