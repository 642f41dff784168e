"""Text for language models: the shipped corpora, vocabularies, next-token windows.

``text_corpus()`` reads a corpus shipped with funcnet (a snapshot of CPython's own
sources and reference documentation, PSF License; see ``corpora/LICENSE.md``), a
vocabulary (``CharVocab`` or ``ByteVocab``) turns it into int32 token ids, and
``TextWindows`` (shuffled windows) or ``TextStreams`` (contiguous streams, for truncated
backpropagation through time) cut those into ``{"inputs", "targets"}`` examples whose
targets are the inputs shifted by one token.
"""

import functools
import lzma
import operator
from pathlib import Path

import numpy as np

__all__ = [
    "CORPORA",
    "ByteVocab",
    "CharVocab",
    "TextStreams",
    "TextWindows",
    "text_corpus",
    "train_val_split",
]

_CORPORA_DIR = Path(__file__).resolve().parent / "corpora"

# name -> (file, SHA-256 of the UTF-8 text, what it is). tools/make_text_corpora.py
# rebuilds the files and prints the digests.
CORPORA = {
    "python": (
        "python.txt.xz",
        "7e86c6b1f4b749bad99b875495d1685a84f01165c0d0c73f2fa1994db1afdcc7",
        "1.13 MB of Python: 41 modules of CPython 3.11.7's standard library (ASCII)",
    ),
    "python_docs": (
        "python_docs.txt.xz",
        "71f2ff5d99bdc1f9c48c5c2353ad138201c5ca1c377e0226857ef8fa89b8bcee",
        "0.47 MB of English: the Python 3.11.7 Language Reference topics of help()",
    ),
}


@functools.cache
def text_corpus(name: str = "python") -> str:
    """A text corpus shipped with funcnet, for character language models.

    The corpora are snapshots (the same text on every machine and Python version),
    decompressed once per process (a few tens of milliseconds) and cached.

    - ``"python"``: 1,128,765 characters of Python source, the modules ``abc`` ...
      ``weakref`` of CPython 3.11.7's standard library, each after a
      ``# ===== Lib/<path> =====`` line; ASCII, 96 distinct characters.
    - ``"python_docs"``: 465,126 characters of English prose, the Python Language
      Reference topics that ``help()`` shows.

    Both are under the PSF License Agreement (``funcnet/data/corpora/LICENSE.md``).

    Args:
      name: ``"python"`` or ``"python_docs"`` (the keys of ``funcnet.data.text.CORPORA``).

    Returns:
      The whole text, a str.

    Raises:
      ValueError: an unknown name (the message lists the corpora).

    Example:
      >>> from funcnet import data
      >>> text = data.text_corpus("python")
      >>> len(text) >= 2**20, text.splitlines()[0]
      (True, '# ===== Lib/abc.py =====')
    """
    if name not in CORPORA:
        raise ValueError(f"unknown text corpus {name!r}: expected one of {sorted(CORPORA)}")
    with lzma.open(_CORPORA_DIR / CORPORA[name][0]) as f:
        return f.read().decode("utf-8")


def _code_points(text: str) -> np.ndarray:
    # UTF-32 is one 4-byte code point per character: the whole text in one NumPy array.
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _as_ids(ids) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.size == 0:
        return np.zeros(0, np.int64)  # np.asarray([]) is float64
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"token ids must be integers, got {ids.dtype}")
    return ids.reshape(-1)


class CharVocab:
    """A character vocabulary: one id per distinct character of a text.

    The ids are the characters' ranks in code-point order, so ``CharVocab(vocab.chars)``
    rebuilds the same vocabulary (save ``chars`` with a model to decode its samples).

    Args:
      text: the text (or any iterable of characters) whose characters make the alphabet.
      unknown: a character that stands for every character outside the alphabet when
        encoding (added to the alphabet if the text lacks it); None (the default) makes
        such a character an error.

    Raises:
      ValueError: an empty text, or an ``unknown`` that is not a single character.

    Example:
      >>> from funcnet import data
      >>> vocab = data.CharVocab("hello world")
      >>> vocab.size, vocab.chars
      (8, ' dehlorw')
      >>> ids = vocab.encode("hold")
      >>> ids, vocab.decode(ids)
      (array([3, 5, 4, 1], dtype=int32), 'hold')
    """

    def __init__(self, text, *, unknown: str | None = None):
        chars = set(text)
        if unknown is not None:
            if not (isinstance(unknown, str) and len(unknown) == 1):
                raise ValueError(f"unknown must be a single character, got {unknown!r}")
            chars.add(unknown)
        if not chars:
            raise ValueError("CharVocab needs a non-empty text")
        if not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise ValueError("CharVocab takes a text: an iterable of single characters")
        self.chars = "".join(sorted(chars))
        self.unknown = unknown
        self._codes = _code_points(self.chars)  # sorted: ids by binary search
        self.unknown_id = None if unknown is None else self.chars.index(unknown)

    @property
    def size(self) -> int:
        """The number of ids (the model's input and output width)."""
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """The ids of a text's characters.

        Args:
          text: a str.

        Returns:
          An int32 array of shape ``(len(text),)``.

        Raises:
          ValueError: a character outside the alphabet when the vocabulary has no
            ``unknown`` (the message names it and its position).
        """
        if not isinstance(text, str):
            raise TypeError(f"CharVocab.encode takes a str, got {type(text).__name__}")
        points = _code_points(text)
        ids = np.searchsorted(self._codes, points).clip(max=len(self._codes) - 1)
        missing = self._codes[ids] != points
        if missing.any():
            if self.unknown_id is None:
                pos = int(np.argmax(missing))
                raise ValueError(
                    f"character {text[pos]!r} at position {pos} is not in the vocabulary "
                    f"({int(missing.sum())} such characters in all; build the CharVocab "
                    "with unknown='?' to map them to one id)"
                )
            ids[missing] = self.unknown_id
        return ids.astype(np.int32)

    def decode(self, ids) -> str:
        """The text of a sequence of ids.

        Args:
          ids: integers in ``[0, size)`` (a list, a NumPy or a funcnet array).

        Returns:
          A str.

        Raises:
          ValueError: an id outside ``[0, size)``.
        """
        ids = _as_ids(ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(
                f"ids must lie in [0, {self.size}), got values from {ids.min()} to {ids.max()}"
            )
        return self._codes[ids].tobytes().decode("utf-32-le")

    def __repr__(self):
        return f"CharVocab(size={self.size}, unknown={self.unknown!r})"


class ByteVocab:
    """The byte vocabulary: a text's UTF-8 bytes are its ids (256 of them, none unknown).

    Example:
      >>> from funcnet import data
      >>> vocab = data.ByteVocab()
      >>> vocab.encode("né"), vocab.decode([110, 195, 169])
      (array([110, 195, 169], dtype=int32), 'né')
    """

    size = 256
    """The number of ids."""

    def __len__(self) -> int:
        return 256

    def encode(self, text) -> np.ndarray:
        """The UTF-8 bytes of a text, as ids.

        Args:
          text: a str (encoded as UTF-8) or bytes.

        Returns:
          An int32 array of the byte values.
        """
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        return np.frombuffer(data, dtype=np.uint8).astype(np.int32)

    def decode(self, ids) -> str:
        """The text of byte ids; invalid UTF-8 (a model's sample may cut a character
        short) becomes U+FFFD.

        Args:
          ids: integers in ``[0, 256)``.

        Returns:
          A str.

        Raises:
          ValueError: an id outside ``[0, 256)``.
        """
        ids = _as_ids(ids)
        if ids.size and (ids.min() < 0 or ids.max() > 255):
            raise ValueError(
                f"byte ids must lie in [0, 256), got values from {ids.min()} to {ids.max()}"
            )
        return ids.astype(np.uint8).tobytes().decode("utf-8", errors="replace")

    def __repr__(self):
        return "ByteVocab()"


def _token_array(tokens) -> np.ndarray:
    tokens = np.asarray(tokens)
    if tokens.ndim != 1 or not np.issubdtype(tokens.dtype, np.integer):
        raise TypeError(
            f"tokens must be a 1-D array of integer ids (vocab.encode(text)), got "
            f"{tokens.dtype} of shape {tokens.shape}"
        )
    if tokens.size and (tokens.min() < np.iinfo(np.int32).min or tokens.max() > 2**31 - 1):
        raise ValueError("token ids must fit in int32")
    return tokens.astype(np.int32, copy=False)


def _positive_int(value, what: str) -> int:
    value = operator.index(value)
    if value < 1:
        raise ValueError(f"{what} must be at least 1, got {value}")
    return value


class _Windows:
    """Shared by TextWindows and TextStreams: example i starts at self._starts[i]."""

    def __len__(self) -> int:
        return len(self._starts)

    def __getitem__(self, index) -> dict:
        i = operator.index(index)
        n = len(self._starts)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for {n} windows")
        start = int(self._starts[i])
        window = self.tokens[start : start + self.seq_len + 1]
        return {"inputs": window[:-1], "targets": window[1:]}

    def batch(self, indices) -> dict:
        """Many windows at once, stacked.

        Args:
          indices: a sequence or 1-D array of window indices.

        Returns:
          ``{"inputs": int32 (n, seq_len), "targets": int32 (n, seq_len)}``.
        """
        starts = self._starts[np.asarray(indices, dtype=np.int64)]
        rows = self.tokens[starts[:, None] + np.arange(self.seq_len + 1)]
        return {"inputs": rows[:, :-1], "targets": rows[:, 1:]}


class TextWindows(_Windows):
    """Next-token windows of a token sequence: a source for language-model training.

    Window ``i`` starts at token ``i * stride``: ``inputs`` are the ``seq_len`` tokens
    from there and ``targets`` the ``seq_len`` tokens one further on. Every window fits
    inside the sequence (a last incomplete window is dropped).

    Args:
      tokens: a 1-D integer array of token ids (``vocab.encode(text)``).
      seq_len: the tokens per window.
      stride: tokens between the starts of consecutive windows; the default,
        ``seq_len``, tiles the sequence without overlap (each target token once).

    Raises:
      TypeError: tokens that are not a 1-D integer array.
      ValueError: ``seq_len`` or ``stride`` below 1, or fewer than ``seq_len + 1``
        tokens.

    Example:
      >>> from funcnet import data
      >>> windows = data.TextWindows(np.arange(10), seq_len=4)
      >>> len(windows), windows[1]
      (2, {'inputs': array([4, 5, 6, 7], dtype=int32), 'targets': array([5, 6, 7, 8], dtype=int32)})
    """

    def __init__(self, tokens, seq_len: int, stride: int | None = None):
        self.tokens = _token_array(tokens)
        self.seq_len = _positive_int(seq_len, "seq_len")
        self.stride = self.seq_len if stride is None else _positive_int(stride, "stride")
        if len(self.tokens) < self.seq_len + 1:
            raise ValueError(
                f"{len(self.tokens)} tokens make no window of seq_len={self.seq_len} "
                f"(a window needs seq_len + 1 = {self.seq_len + 1} tokens)"
            )
        count = (len(self.tokens) - self.seq_len - 1) // self.stride + 1
        self._starts = np.arange(count, dtype=np.int64) * self.stride

    def __repr__(self):
        return f"TextWindows({len(self)} windows, seq_len={self.seq_len}, stride={self.stride})"


class TextStreams(_Windows):
    """Windows laid out for truncated backpropagation through time.

    The sequence is cut into ``num_streams`` contiguous streams of equal length; window
    ``i = k * num_streams + s`` is the ``k``-th window of stream ``s``. Batched in order
    (``data.Loader(src, batch_size=num_streams, shuffle=False)``), row ``s`` of batch
    ``k + 1`` continues row ``s`` of batch ``k`` exactly, so a recurrent model carries
    its state from one batch to the next.

    Args:
      tokens: a 1-D integer array of token ids.
      seq_len: the tokens per window (the truncation length).
      num_streams: the number of parallel streams (the batch size to load it with).

    Raises:
      TypeError: tokens that are not a 1-D integer array.
      ValueError: ``seq_len`` or ``num_streams`` below 1, or too few tokens for one
        window per stream.

    Example:
      >>> from funcnet import data
      >>> streams = data.TextStreams(np.arange(20), seq_len=3, num_streams=2)
      >>> len(streams), streams.batch([0, 1])["inputs"], streams.batch([2, 3])["inputs"]
      (6, array([[ 0,  1,  2],
             [ 9, 10, 11]], dtype=int32), array([[ 3,  4,  5],
             [12, 13, 14]], dtype=int32))
    """

    def __init__(self, tokens, seq_len: int, num_streams: int):
        self.tokens = _token_array(tokens)
        self.seq_len = _positive_int(seq_len, "seq_len")
        self.num_streams = _positive_int(num_streams, "num_streams")
        # Each stream owns `stream_len` tokens, and its windows' targets stay inside it
        # plus the one token after its last input.
        stream_len = (len(self.tokens) - 1) // self.num_streams
        per_stream = stream_len // self.seq_len
        if per_stream < 1:
            raise ValueError(
                f"{len(self.tokens)} tokens make no window of seq_len={self.seq_len} in "
                f"each of {self.num_streams} streams (needs at least "
                f"{self.num_streams * self.seq_len + 1} tokens)"
            )
        k = np.arange(per_stream, dtype=np.int64)[:, None]
        s = np.arange(self.num_streams, dtype=np.int64)[None, :]
        self._starts = (s * stream_len + k * self.seq_len).reshape(-1)

    def __repr__(self):
        return (
            f"TextStreams({len(self)} windows, seq_len={self.seq_len}, "
            f"num_streams={self.num_streams})"
        )


def train_val_split(sequence, val_fraction: float = 0.1):
    """Split a text or token sequence into a leading training part and a trailing
    validation part (contiguous, so that no window straddles the two).

    Args:
      sequence: a str, a list or a 1-D array.
      val_fraction: the share of the sequence for validation, strictly between 0 and 1.

    Returns:
      ``(train, val)``: ``sequence[:n]`` and ``sequence[n:]`` with
      ``n = len(sequence) - round(len(sequence) * val_fraction)``.

    Raises:
      ValueError: a fraction outside (0, 1), or a split that leaves a part empty.

    Example:
      >>> from funcnet import data
      >>> data.train_val_split("abcdefghij", val_fraction=0.2)
      ('abcdefgh', 'ij')
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    n_val = round(len(sequence) * val_fraction)
    n_train = len(sequence) - n_val
    if n_val == 0 or n_train == 0:
        raise ValueError(
            f"val_fraction={val_fraction} of {len(sequence)} items leaves "
            f"{n_train} for training and {n_val} for validation: both need at least one"
        )
    return sequence[:n_train], sequence[n_train:]
