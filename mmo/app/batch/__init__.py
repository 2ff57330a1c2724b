"""``mmo batch``: a JSONL file of prompts through one profile, resumable, with a cost cap.

* ``job``: what an invocation is asked (``BatchJob``) and what it leaves (``BatchReport``);
* ``source`` and ``input``: rows streamed from the file, malformed lines reported with their
  line numbers;
* ``identity``: which run an invocation belongs to (input, profile, parameters) and where its
  state lives;
* ``state`` and ``writer``: the SQLite record of every finished row, committed before a row
  counts as done;
* ``outcome``: one row's result, as stored and as written to the output;
* ``runner``, ``progress``, ``control``: the rows through one engine, ``-c`` at a time, until
  done or stopped (Ctrl-C, the cost cap);
* ``output``, ``summary``, ``run_record``: what the run leaves behind;
* ``estimate`` and ``dry_run``: the ``--dry-run`` estimate;
* ``run``: the use case end to end, ``run_batch``.

Nothing here imports typer or rich; ``mmo.cli.batch_cmd`` renders.
"""
