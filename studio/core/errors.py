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


def unreadable(name: str, error: OSError, what: str) -> StudioError:
    """What to say when the user's file ``name`` (meant to be ``what``: "an image", "a video") could not
    be opened: missing, a folder, not permitted, or another OS error."""
    if isinstance(error, FileNotFoundError):
        return StudioError(f"{name} does not exist.")
    if isinstance(error, IsADirectoryError):
        return StudioError(f"{name} is a folder, not {what}.")
    if isinstance(error, PermissionError):
        return StudioError(f"{name} could not be opened: permission denied.")
    return StudioError(f"{name} could not be read ({error.strerror or error}).")
