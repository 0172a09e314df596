"""The local stack's BigQuery: bqemulator's own CLI, in a process that first memoizes its
SQL parsing (``bq_memo``), stops its time-travel copies (``bq_snapshots``), leaves out
the request observers nobody reads (``bq_observers``), makes a failed ``jobs.query``
an error as on BigQuery (``bq_query_errors``) and refuses what BigQuery's limits refuse
(``bq_limits``: query length, partitions written by one job).

The first three change what the emulator costs, not what the pipeline is answered; the
last two close gaps that would hide a failing query. Run as
``python -m stkpi_tools.localstack.bq_server start ...`` with bqemulator's arguments
(``stkpi_tools.localstack.services.start_bigquery`` does); its log ends with how often
the memos answered.
"""

from __future__ import annotations

import atexit
import sys

from stkpi_tools.localstack import (
    bq_limits,
    bq_memo,
    bq_observers,
    bq_query_errors,
    bq_snapshots,
    bq_threads,
)


def main() -> None:
    memos = bq_memo.install()
    bq_snapshots.install()
    bq_observers.install(sys.argv[1:])
    bq_query_errors.install()
    bq_limits.install()
    bq_threads.install()
    atexit.register(lambda: print(bq_memo.report(memos), file=sys.stderr, flush=True))
    from bqemulator.cli import main as bqemulator_main

    bqemulator_main(prog_name="bqemulator")


if __name__ == "__main__":
    main()
