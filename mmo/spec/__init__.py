"""The building blocks of a profile file that several layers read: the ``Spec`` base, the one
parameter schema, model entries, providers' common fields, and policies (retry, budget, limits,
privacy). Strategy, gate and provider kinds define their own specs beside their code; ``mmo.config``
assembles them into the profile schema."""
