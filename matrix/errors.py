"""Errors that stop a command, each with a message that says how to fix it."""


class MatrixError(Exception):
    """A problem the user can fix; the message names it and the fix. Exit code 2."""

    exit_code = 2


class StackDeclarationError(MatrixError):
    """The stacks declaration is malformed."""


class SelectionError(MatrixError):
    """No stack matches what the user asked for."""


class WorkspaceError(MatrixError):
    """The workspace holds something this version cannot use."""


class CheckInputError(MatrixError):
    """An option of ``matrix check`` names something unusable (the model files themselves never stop a check)."""
