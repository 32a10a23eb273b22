"""Errors that reach the user as one clear line."""


class NMTError(Exception):
    """Base class: the message is one line naming the file/key and what to do."""


class DataError(NMTError):
    """A corpus file is missing, corrupt or malformed."""


class ConfigError(NMTError):
    """A configuration key or value is not valid."""


class CheckpointError(NMTError):
    """A checkpoint is missing, truncated or not an nmt checkpoint."""


class WriteError(NMTError):
    """A file could not be written (a full disk, no permission); what was there is intact."""
