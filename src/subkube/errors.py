"""The one error type the CLI turns into a single line instead of a traceback."""


class SubkubeError(Exception):
    """A failure the user can act on: the message says what went wrong and what to do."""
