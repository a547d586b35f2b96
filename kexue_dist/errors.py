"""One exception type for bad user input.

The CLI turns it into exit code 2 and one line on stderr, before Ray starts and before any output
directory exists. Raise it from validation code; never catch it inside library code.
"""


class UserError(Exception):
    """Bad input from the user: a config key, a path, a value out of range."""
