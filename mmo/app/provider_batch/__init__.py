"""Provider batch jobs (``mmo batch IN.jsonl --provider-batch``, ``mmo jobs ...``): a run's rows
sent to the vendors' own batch APIs at half price, collected later into the same output a live
run writes.

* ``first_call``: which model a row's first call goes to, and the request it sends;
* ``submit``: rows into jobs (by model, under each vendor's limits), recorded, then created;
* ``store``: the run's jobs, requests and results (``jobs.sqlite3`` beside its state);
* ``collect``: show, wait, cancel, and collect (results in, then the rows run with them);
* ``answers``: the jobs' answers standing in for the live calls while collected rows run.

The vendors' APIs are behind ``mmo.providers.batch_api.BatchEndpoint``.
"""
