"""Quality gates: the checks an answer must pass before a cascade (or a pipeline step) accepts it.

A gate has ``name``, ``calls_models`` and ``async check(completion, request, ctx) -> GateResult``
(``verdict``); ``build_gates(builder, spec)`` turns a profile's ``accept:`` block into ``Gates``
(``gate_set``), which runs them in registry order (cheap first, model-calling last) and stops at
the first failure. Each gate kind is one module, listed in ``kinds.GATE_MODULES``:

=================  ===========================================================================
gate               passes when
=================  ===========================================================================
finish_reasons     the finish reason is one of those listed (``[stop]`` rejects truncated answers)
no_refusal         no refusal phrase in the first 400 characters and the provider did not filter
                   the answer (finish reason ``content_filter``)
min_length         the answer (surrounding whitespace stripped) has at least this many characters
max_length         ... at most this many
json               the whole answer is one JSON value (optionally inside one code fence)
json_schema        ... and it validates against the schema (a string is a file path)
regex              ``re.search`` finds the pattern in the answer
extract            an answer can be extracted (``mmo.strategies.extract``)
min_confidence     the model's self-rated confidence, which the gate asks for, is at least this
min_logprob        the mean token log-probability is at least this
agree              another node, asked the same request, gives the same extracted answer
learned            a model trained by ``mmo tune`` gives the answer at least ``min_p`` chance of
                   being right (from the prompt, the answer and, optionally, a consulted node)
judge              a judge node scores the answer 0-10 against the rubric at least ``min_score``
=================  ===========================================================================

An answer that calls tools (``mmo ask --tools``) has no text to read: only ``finish_reasons`` judges
it (``[stop]`` rejects tool calls); every other gate passes it, saying so in the trace.

Reasons never quote more than a short extracted value from an answer (they are stored in the
trace, which the run log keeps even with ``--no-log``).
"""
