"""``curaug run``: a whole pipeline from one YAML file, with a content-addressed stage cache.

:mod:`~pipelines.run.schema` reads and checks the pipeline file, :mod:`~pipelines.run.hashing`
hashes the files a stage reads and writes (cached by path, size, mtime and inode),
:mod:`~pipelines.run.stages` holds one small class per stage, :mod:`~pipelines.run.plan`
decides which stages run and why, and :mod:`~pipelines.run.runner` runs them in order.
"""
