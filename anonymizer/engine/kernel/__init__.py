"""The per-value operations both engines apply, each written once.

An engine decides *which* elements a rule reaches (:mod:`anonymizer.engine.compiled` by position,
:mod:`anonymizer.engine.reference` node by node); the kernel decides what the rule does to one element's value:
redact, date shift and its offset (:mod:`.offsets`), crypto hash, encrypt, generalize (:mod:`.values`), perturb
(:mod:`.numbers`), substitute (:mod:`.substitute`), scrubText (:mod:`.scrub`), and how a change is recorded
(security labels and rule hits, :mod:`.labels`).
"""
