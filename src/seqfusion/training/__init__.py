"""Building model zoos (needs the ``training`` extra: torch): dataset readers and the source
registry (:mod:`~seqfusion.training.data`), the torch architectures
(:mod:`~seqfusion.training.models`), PTM, extractor and router training, the
transferability matrix, and the staged pipeline (:mod:`~seqfusion.training.pipeline`).

Nothing in the inference core imports this package.
"""
