"""Errors a user can act on: they end a command with a one-line message, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a missing resource: the message says what and where; exit code 2."""

    exit_code = 2


class NotFound(UserError):
    """A resource the user named does not exist."""
