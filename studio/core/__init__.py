"""The engine: models, samplers, data, text encoder, training, checkpoints, metrics.

Nothing under this package imports Qt; the UI and the command line are both thin clients of it.
"""
