"""Building model zoos (needs the ``build`` extra: torch): dataset readers and the source
registry (:mod:`~seqfusion.build.data`), the torch architectures
(:mod:`~seqfusion.build.models`), PTM, extractor and router training, the
transferability matrix, and the staged pipeline (:mod:`~seqfusion.build.pipeline`).

Nothing in the inference core imports this package.
"""
