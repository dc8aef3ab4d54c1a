"""The anonymization engine: the :class:`Anonymizer` facade over two engines sharing one kernel.

- :mod:`.facade`: :class:`Anonymizer` (configuration in, resources in and out, ``processingErrors``);
- :mod:`.interface`: the :class:`~.interface.Engine` interface and the choice of engine per configuration;
- :mod:`.compiled`: compiled per-position plans (the fast path);
- :mod:`.reference`: the node-tree engine (every construct; the reference the plans are tested against);
- :mod:`.kernel`: the per-value operations both engines apply, each written once.
"""

from __future__ import annotations

from anonymizer.engine.facade import Anonymizer, deep_copy

__all__ = ["Anonymizer", "deep_copy"]
