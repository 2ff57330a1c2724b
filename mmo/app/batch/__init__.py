"""``mmo batch``: a JSONL file of prompts through one profile, resumable, with a cost cap.

* ``input``: rows streamed from the file, malformed lines reported with their line numbers;
* ``identity``: which run an invocation belongs to (input, profile, parameters) and where its
  state lives;
* ``state``: the SQLite record of every finished row, committed before a row counts as done;
* ``outcome``: one row's result, as stored and as written to the output;
* ``cost_cap``: the ``--max-cost`` guard;
* ``runner``: the rows through one session, ``-c`` at a time, until done or stopped;
* ``output``, ``summary``, ``run_record``: what the run leaves behind;
* ``estimate``: the ``--dry-run`` estimate;
* ``job``: the use case end to end, ``run_batch`` (and ``dry_run``).

Nothing here imports typer or rich; ``mmo.cli.batch_cmd`` renders.
"""
