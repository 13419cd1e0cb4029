"""The one exception type that means "the user gave us something we cannot use".

The CLI turns it into `orch: error: <message>` and exit status 2; everything else is a bug and
keeps its traceback. Raising it before anything is written is how commands keep the promise
that bad input leaves the workspace untouched.
"""


class OrchError(Exception):
    """Bad input or an unusable environment: reported as one line, exit status 2."""

    def __init__(self, what: str, where: str | None = None):
        self.what = what
        self.where = where
        super().__init__(f"{what} ({where})" if where else what)
