"""The evaluator's exceptions: every failure says what went wrong and where (file, block,
expression), and callers tell apart a value known only after apply (:class:`Unknown`)
from a mistake in the configuration.
"""

from __future__ import annotations


class HclError(Exception):
    """An error in a Terraform expression; ``str()`` says where (file, block, expression)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.context: list[str] = []

    def add_context(self, where: str) -> HclError:
        if where not in self.context:
            self.context.append(where)
        return self

    def __str__(self) -> str:
        return self.message + "".join(f"\n  in {c}" for c in self.context)


class ParseError(HclError):
    """Expression text that is not HCL (or not the subset this module parses)."""


class NotSupported(HclError):
    """Valid Terraform that this evaluator deliberately does not evaluate."""


class MissingVariable(HclError):
    """A variable without default, and without a value given, was used."""


class CycleError(HclError):
    """Locals (or resource attributes) that refer to each other in a cycle."""


class Unknown(HclError):
    """A value Terraform only knows after apply (a computed attribute not modelled here)."""

    def __init__(self, reference: str) -> None:
        super().__init__(
            f"{reference} is known only after apply (not modelled by stkpi_tools.terraform)"
        )
        self.reference = reference
