"""Table contracts (pandera): the canonical input tables and the tables stages hand each other."""

from ml.contracts.base import DATE_DTYPE
from ml.contracts.inputs import (
    CONTRACTS,
    KINDS,
    QUARANTINE_COLUMNS,
    SOURCE_FIELDS,
    FieldType,
    SourceFields,
    contract_failures,
    empty_table,
    table_dtypes,
)
from ml.contracts.outputs import (
    OUTPUT_CONTRACTS,
    check_output,
    check_run_output,
    output_problems,
)

__all__ = [
    "CONTRACTS",
    "DATE_DTYPE",
    "KINDS",
    "OUTPUT_CONTRACTS",
    "QUARANTINE_COLUMNS",
    "SOURCE_FIELDS",
    "FieldType",
    "SourceFields",
    "check_output",
    "check_run_output",
    "contract_failures",
    "empty_table",
    "output_problems",
    "table_dtypes",
]
