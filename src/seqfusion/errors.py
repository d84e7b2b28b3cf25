"""Exceptions raised by seqfusion for bad input or bad zoo files."""


class SeqFusionError(ValueError):
    """Invalid user input (series, options, files); the message says what to fix."""


class ZooError(SeqFusionError):
    """A zoo folder or one of its files is missing, corrupt or inconsistent."""


class UnknownMemberError(ZooError, KeyError):
    """A zoo has no member of the name asked for (a ``KeyError`` too, as for a mapping)."""
