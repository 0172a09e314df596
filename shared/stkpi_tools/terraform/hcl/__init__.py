"""A small, strict evaluator of the Terraform expressions in ``terraform/*.tf``.

python-hcl2 parses the files into dicts whose strings are HCL expression text (a quoted
template ``'"${each.value}-dead-letter"'``, a wrapped expression ``'${max(1, var.a)}'``, a
bare word ``'string'``); numbers, bools and null come as Python values, object literals as
dicts, blocks as lists of dicts marked ``__is_block__``. This package parses that text with
a recursive-descent parser and evaluates it the way Terraform would at plan time:

- values: ``str``, ``int``/``float`` (an integral result is an ``int``), ``bool``,
  ``None`` (null), ``list`` (tuple/list), ``dict`` (object/map, keys kept sorted the way
  Terraform iterates them) and ``HclSet`` (``toset``; a sorted tuple);
- ``var.x`` from the overrides given to :class:`Module`, else the variable's default;
  ``local.x`` evaluated lazily, memoized, with cycle detection;
- ``each``/``count`` inside a resource's instances, dynamic-block iterators, for-expression
  variables, ``path.module`` (the directory, absolute);
- references to resources and data sources: the instance's own argument when its block
  sets it, else a small table of computed attributes (``COMPUTED``); anything else raises
  :class:`Unknown`, which a caller that does not need the value can catch.

Not supported (raises :class:`NotSupported` or a clear :class:`HclError`): module calls
(``module.x``), ``self``, provider-defined functions (``provider::...``), ``templatefile``,
functions whose value is only known at apply (``timestamp``, ``uuid``), type constraints
beyond primitive conversion of overrides, variable validations, override files, and JSON
configuration (``*.tf.json``). Unlike Terraform, ``&&``/``||`` short-circuit and unknown
values are exceptions, not values.

This package's modules, in the order an expression goes through them: ``config`` (blocks
as python-hcl2 reads them), ``scanner``/``templates``/``parser`` (text to ``nodes``),
``nodes`` (evaluation), ``values`` (Terraform's values and conversions), ``functions``
(built-ins, in ``fn_*``), ``module``/``views``/``namespaces`` (resources and instances),
``computed`` (attributes known only after apply). This ``__init__`` is the public API.
"""

from stkpi_tools.terraform.hcl.computed import COMPUTED, PROJECT_NUMBER_PLACEHOLDER
from stkpi_tools.terraform.hcl.errors import (
    CycleError,
    HclError,
    MissingVariable,
    NotSupported,
    ParseError,
    Unknown,
)
from stkpi_tools.terraform.hcl.module import Module, iter_instances
from stkpi_tools.terraform.hcl.parser import parse_expression
from stkpi_tools.terraform.hcl.values import HclSet, to_string
from stkpi_tools.terraform.hcl.views import Block, Instance

__all__ = [
    "COMPUTED",
    "PROJECT_NUMBER_PLACEHOLDER",
    "Block",
    "CycleError",
    "HclError",
    "HclSet",
    "Instance",
    "MissingVariable",
    "Module",
    "NotSupported",
    "ParseError",
    "Unknown",
    "iter_instances",
    "parse_expression",
    "to_string",
]
