"""The one error type of the dataset adapters."""


class DatasetError(ValueError):
    """A dataset folder or file that cannot be used, with a message that names it."""
