"""``mmo bench`` and ``mmo tune``: models and strategies measured on the user's own tasks, and the
best strategy found from what was measured.

* ``tasks``: task sets (JSONL, YAML, CSV) read into ``Task`` values, with stable ids;
  ``task_files`` reads the files (and ``builtin:NAME`` data sets) within bounds; ``datasets``
  names each built-in data set's default check;
* ``checks``: how an answer is scored against a task's reference (the one extractor underneath);
* ``results``: what a bench run stores (``TaskResult`` per task and target, the run's metadata
  and lockfile) so reports and ``mmo tune`` need no new calls;
* ``runner``: a bench run through the batch engine (cache, concurrency, resume, cost cap);
* ``stats`` / ``report``: accuracy intervals, latency percentiles, the cost/accuracy frontier,
  the summary per target and category (with its JSON and CSV); ``compare``: flipped tasks, the
  paired test and lockfile changes between two runs; ``stored``: a stored run read back, checked;
  ``axes``, ``html_chart``, ``html_report``: the chart and the self-contained HTML report;
* ``tune``: strategies searched over stored results, on the train split only: ``tune_data`` (the
  bench run's model answers, split), ``tune_signals`` (what gates and rules make of them),
  ``tune_sim`` (strategies simulated), ``tune_search`` (the search), ``tune_learn`` (the learned
  router's training), ``tune_objective`` (the choice), ``tune_live`` (the choice run for real on
  the recorded answers), ``tune_profile`` (the profile written).
"""
