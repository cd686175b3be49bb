"""Where WordNet 3.0 lives on this machine (offline: Debian's ``wordnet-base``), and
NLTK's reader over it.

curaug never downloads WordNet. It reads the database files (``data.noun``,
``index.noun``, ``noun.exc``...) from ``$CURAUG_WORDNET_DIR`` if set, else from Debian's
``/usr/share/wordnet`` (``apt-get install wordnet-base wordnet-sense-index``; ``make
install`` and CI do it).

NLTK 3.10 finds WordNet only as a ``corpora/wordnet`` folder on an NLTK data path, and its
reader also wants the ``lexnames`` file that Debian does not ship. :func:`nltk_data_dir`
builds that folder once in curaug's cache (copies of Debian's files, 36 MB, plus
``lexnames``, whose 45 lines are those of the lexnames(5WN) man page), and :func:`reader`
puts it on ``nltk.data.path`` and opens it. Links would not do: NLTK's path guard resolves
symbolic links and refuses files outside its data path, and refuses hard-linked files.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path

from curate.errors import CuraugError
from curate.io.cache import cache_dir

DEBIAN_DIR = "/usr/share/wordnet"
FIX = "apt-get install wordnet-base wordnet-sense-index (or set CURAUG_WORDNET_DIR to a WordNet 3.0 dict folder)"

#: The files NLTK's WordNetCorpusReader opens (index.sense and cntlist.rev only on demand).
DATABASE_FILES = ("data.adj", "data.adv", "data.noun", "data.verb",
                  "index.adj", "index.adv", "index.noun", "index.verb", "index.sense",
                  "adj.exc", "adv.exc", "noun.exc", "verb.exc", "cntlist.rev")

#: lexnames(5WN): file number, lexicographer file, syntactic category (1 n, 2 v, 3 a, 4 r).
LEXNAMES = (
    "adj.all 3", "adj.pert 3", "adv.all 4", "noun.Tops 1", "noun.act 1", "noun.animal 1",
    "noun.artifact 1", "noun.attribute 1", "noun.body 1", "noun.cognition 1",
    "noun.communication 1", "noun.event 1", "noun.feeling 1", "noun.food 1", "noun.group 1",
    "noun.location 1", "noun.motive 1", "noun.object 1", "noun.person 1",
    "noun.phenomenon 1", "noun.plant 1", "noun.possession 1", "noun.process 1",
    "noun.quantity 1", "noun.relation 1", "noun.shape 1", "noun.state 1",
    "noun.substance 1", "noun.time 1", "verb.body 2", "verb.change 2", "verb.cognition 2",
    "verb.communication 2", "verb.competition 2", "verb.consumption 2", "verb.contact 2",
    "verb.creation 2", "verb.emotion 2", "verb.motion 2", "verb.perception 2",
    "verb.possession 2", "verb.social 2", "verb.stative 2", "verb.weather 2", "adj.ppl 3",
)


def wordnet_dir() -> Path:
    """The folder holding WordNet 3.0's database files; bad input (exit 2) naming the fix
    when there is none."""
    folder = Path(os.environ.get("CURAUG_WORDNET_DIR") or DEBIAN_DIR)
    if not (folder / "data.noun").is_file():
        raise CuraugError(f"WordNet 3.0 not found in {folder}: {FIX}")
    return folder


def lexnames_text() -> str:
    """The ``lexnames`` file: ``NN<TAB>name<TAB>category`` per line, 45 lines."""
    return "".join(f"{i:02d}\t{name}\t{cat}\n" for i, (name, cat) in
                   enumerate(line.split() for line in LEXNAMES))


def nltk_data_dir() -> Path:
    """An NLTK data folder whose ``corpora/wordnet`` is this machine's WordNet 3.0.

    Built once per WordNet folder (the cache name hashes its path, so setting
    ``CURAUG_WORDNET_DIR`` gets its own), atomically: a half-built folder is never seen.
    Put it on ``nltk.data.path`` for code that uses ``nltk.corpus.wordnet``.
    """
    source = wordnet_dir().resolve()
    key = hashlib.sha1(str(source).encode()).hexdigest()[:12]
    root = cache_dir() / f"nltk_data-{key}"
    target = root / "corpora" / "wordnet"
    if (target / "lexnames").is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".nltk_data-", dir=root.parent))
    try:
        folder = staging / "corpora" / "wordnet"
        folder.mkdir(parents=True)
        for name in DATABASE_FILES:
            if (source / name).is_file():
                shutil.copyfile(source / name, folder / name)
        (folder / "lexnames").write_text(lexnames_text(), encoding="utf-8")
        try:
            staging.rename(root)
        except OSError:
            # another process built it first: theirs is as good as ours
            if not (target / "lexnames").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def open_reader(root: Path):
    """A fresh ``WordNetCorpusReader`` over ``root/corpora/wordnet`` (an
    :func:`nltk_data_dir`); it loads WordNet's indexes, about 3 s: use :func:`reader`."""
    import warnings

    from augment.seeds import global_rngs_kept

    with global_rngs_kept():  # importing NLTK draws from Python's global RNG
        import nltk.data
        from nltk.corpus.reader import WordNetCorpusReader

    if str(root) not in nltk.data.path:
        # NLTK opens corpus files only under its data path
        nltk.data.path.append(str(root))
    with warnings.catch_warnings():
        # "multilingual functions are not available": curaug uses English WordNet only
        warnings.simplefilter("ignore", UserWarning)
        return WordNetCorpusReader(str(root / "corpora" / "wordnet"), None)


#: Held while the reader is built or reads its data files: NLTK seeks and reads shared file
#: handles, which threads (the thread engine, Dask's threaded workers) would interleave.
LOCK = threading.RLock()


@functools.lru_cache(maxsize=None)
def _reader_for(source: Path):  # keyed by the WordNet folder it reads
    return open_reader(nltk_data_dir())


def reader():
    """NLTK's ``WordNetCorpusReader`` over this machine's WordNet 3.0, one per process
    (and per WordNet folder).

    >>> sorted(l.name() for l in reader().synsets("car", "n")[0].lemmas())[:3]
    ['auto', 'automobile', 'car']
    """
    source = wordnet_dir().resolve()
    with LOCK:
        return _reader_for(source)
