"""The model catalogue: everything mmo knows about a model, from one place.

``Catalog.facts(ref)`` gives a model's endpoint and key variable (``endpoints``), its price with
the price's source (``prices``), its context window and maximum output (``windows``), and the
parameter rules of its family (``rules``), each overridable per model in a profile. Look-ups are
lazy and remembered: one call looks up one model, never every price of every provider.
"""
