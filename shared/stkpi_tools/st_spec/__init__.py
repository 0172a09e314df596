"""ServiceTitan's published OpenAPI specs, as the project keeps them in ``specs/servicetitan``:
loading (``documents``), what an operation's schemas say (``schemas``), checking a value
against them (``validate``) and the record shapes the simulator takes from them
(``defaults``). Tooling only: the runtime never reads the specs (docs/SERVICETITAN_SPECS.md).
"""

from stkpi_tools.st_spec.defaults import neutral, required_fields
from stkpi_tools.st_spec.documents import Document, Operation, document, source, specs_dir
from stkpi_tools.st_spec.schemas import field_schema, record_schema, shape, value_types, variants
from stkpi_tools.st_spec.validate import Validator

__all__ = [
    "Document",
    "Operation",
    "Validator",
    "document",
    "field_schema",
    "neutral",
    "record_schema",
    "required_fields",
    "shape",
    "source",
    "specs_dir",
    "value_types",
    "variants",
]
