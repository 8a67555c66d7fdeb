"""Errors with messages meant for the person at the keyboard (UI dialogs and CLI print them as is)."""


class StudioError(Exception):
    """Base class: str(error) is a complete, user-facing sentence."""


class CheckpointError(StudioError):
    pass


class DatasetMissingError(StudioError):
    pass


class RequestError(StudioError):
    pass


class TrainingError(StudioError):
    pass
