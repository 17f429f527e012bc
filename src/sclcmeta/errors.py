"""Exception and warning types shared by every stage of sclcmeta.

Every error raised on user input is one of these, and its message is a sentence that says
what is wrong, where (file, row, column, value, or spec key) and how to fix it.
"""

from __future__ import annotations


class SclcmetaError(ValueError):
    """Base class for errors on user input (evidence tables, specs, priors)."""


class EvidenceError(SclcmetaError):
    """An evidence table cannot be used as it stands.

    ``problems`` holds one line per problem, each naming file, row, column and value.
    """

    def __init__(self, problems: list[str] | str):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class SpecError(SclcmetaError):
    """An analysis spec or prior set is malformed (names the file and the key)."""


class PriorError(SpecError):
    """A prior is malformed: unknown family, missing or invalid hyperparameter."""


class ConvergenceWarning(UserWarning):
    """An MCMC fit failed the convergence gate (R-hat, ESS or divergences)."""


class SmallEvidenceWarning(UserWarning):
    """Few studies: the heterogeneity of a random-effects fit comes (mostly) from its prior."""


class EvidenceWarning(UserWarning):
    """An estimate matching the selection cannot enter the likelihood (e.g. a p-value that gives no SE)."""
