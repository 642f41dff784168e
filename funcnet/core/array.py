"""funcnet.Array: a concrete array that owns an XLA device buffer.

Operators (+, @, indexing, .sum(), ...) are installed by funcnet.numpy on both
Array and Tracer, so eager code and traced code read the same.
"""

import numpy as np

from funcnet.core import dtypes
from funcnet.core.aval import ShapedArray
from funcnet.runtime import spmd, xla
from funcnet.sharding import SingleDeviceSharding


class Array:
    """A concrete, immutable n-dimensional array held in a device buffer, as `jax.Array`.

    What funcnet's functions return outside transformations (`fnp.ones(3)`,
    `fn.jit(f)(x)`, `fn.device_put(np_array)`). It supports NumPy's operators,
    indexing and methods (`+`, `@`, `x[1:]`, `.sum()`, `.reshape()`, `.at[...]`,
    installed by `funcnet.numpy`), converts to NumPy with `np.asarray(x)`, and is
    computed asynchronously: reading its values waits for them. Build arrays with
    `fnp.asarray` or `fn.device_put` rather than with this constructor.

    Args:
      buf: a runtime device buffer (from the XLA runtime).
      weak_type: whether the value is weakly typed (a Python scalar's type, which
        gives way to the other operand's dtype in arithmetic, as in jax).

    Attributes:
      aval: the abstract value, a `ShapedArray` (shape, dtype, weak type).
      shape, dtype, ndim, size, weak_type: those of `aval`.
      device: the device holding the buffer.
      sharding: a `SingleDeviceSharding` on that device.

    Example:
      >>> x = fnp.arange(6.0).reshape(2, 3)
      >>> x.shape, x.dtype, x.device == fn.devices()[0]
      ((2, 3), dtype('float32'), True)
      >>> (x * 2).sum().item()
      30.0
      >>> np.asarray(x[1])
      array([3., 4., 5.], dtype=float32)
    """

    __slots__ = ("__weakref__", "_buf", "aval")
    __array_priority__ = 1000

    def __init__(self, buf, weak_type: bool = False):
        self._buf = buf
        self.aval = ShapedArray(buf.shape, buf.dtype, weak_type)

    shape = property(lambda self: self.aval.shape, doc="The shape, a tuple of ints.")
    dtype = property(lambda self: self.aval.dtype, doc="The element type, a NumPy dtype.")
    ndim = property(lambda self: self.aval.ndim, doc="The number of dimensions.")
    size = property(lambda self: self.aval.size, doc="The number of elements.")
    weak_type = property(
        lambda self: self.aval.weak_type,
        doc="Whether the dtype is weak (from a Python scalar; see `Array`).",
    )

    @property
    def device(self):
        """The device holding the buffer."""
        self._check_alive()
        return next(iter(self._buf.devices()))

    def devices(self) -> set:
        """The devices holding the array's data, as `jax.Array.devices`.

        Returns:
          A set of one device.
        """
        return {self.device}

    @property
    def sharding(self):
        """How the data is laid out across devices: a `SingleDeviceSharding` (a sharded
        array's is the `NamedSharding` it was made with or the compiled one)."""
        return SingleDeviceSharding(self.device)

    @property
    def addressable_shards(self) -> list:
        """The blocks of the array this process holds, as `jax.Array.addressable_shards`.

        Returns:
          A list of `Shard`s (one here: the whole array on its device).
        """
        return [Shard(self.device, (slice(None),) * self.ndim, 0, self)]

    @property
    def is_fully_addressable(self) -> bool:
        """True: this process holds every shard (there is one)."""
        return True  # this process holds every shard (there is one)

    @property
    def is_fully_replicated(self) -> bool:
        """True: the one shard is the whole array."""
        return True

    def addressable_data(self, index: int) -> "Array":
        """The data of an addressable shard, as `jax.Array.addressable_data`.

        Args:
          index: the shard's index; only 0 exists.

        Returns:
          The array itself (its one shard is the whole array).

        Raises:
          IndexError: `index` is not 0.
        """
        if index != 0:
            raise IndexError(f"addressable_data({index}): this array has one shard (index 0)")
        return self

    def copy_to_host_async(self) -> None:
        """Starts copying the data to the host without waiting, so that a later
        `np.asarray(x)` waits less (as `jax.Array.copy_to_host_async`).

        Returns:
          None.

        Raises:
          RuntimeError: the array was donated or deleted.
        """
        self._check_alive()
        self._buf.copy_to_host_async()

    @property
    def buffer(self):
        """The runtime buffer (for interop)."""
        self._check_alive()
        return self._buf

    def _check_alive(self):
        if self._buf.is_deleted():
            raise self._deleted_error()

    def _deleted_error(self) -> RuntimeError:
        return RuntimeError(
            f"this Array ({self.aval.str_short()}) was donated to a jitted function "
            "(donate_argnums) or deleted; its buffer can no longer be used"
        )

    def is_deleted(self) -> bool:
        """Whether the buffer was freed (by `delete` or by donation to a jitted call).

        Returns:
          A bool.
        """
        return self._buf.is_deleted()

    def delete(self):
        """Frees the device buffer now; the array cannot be used afterwards.

        Returns:
          None.
        """
        self._buf.delete()

    def block_until_ready(self):
        """Waits until the array's value is computed (dispatch is asynchronous), as
        `jax.Array.block_until_ready`.

        Returns:
          The array itself.

        Raises:
          RuntimeError: the array was donated or deleted.
        """
        self._check_alive()
        self._buf.block_until_ready()
        return self

    def __array__(self, dtype=None, copy=None):
        self._check_alive()
        arr = xla.to_numpy(self._buf)  # a read-only view of the buffer on CPU
        if dtype is None and not copy:
            return arr
        # NumPy 2 trusts __array__ to honour copy=: a view kept past np.array(x, copy=True)
        # would pin the buffer (the runtime then silently skips donating it).
        return np.array(arr, dtype=dtype, copy=copy)

    def to_numpy(self) -> np.ndarray:
        """The values on the host, as `np.asarray(x)`.

        Returns:
          A NumPy array of the array's shape and dtype (it may be read-only).
        """
        return np.array(self)

    def item(self):
        """The value of a one-element array as a Python scalar, as NumPy's `item`.

        Returns:
          A Python float, int, bool or complex.

        Raises:
          ValueError: the array has more than one element.
        """
        return np.asarray(self).item()

    def tolist(self):
        """The values as nested Python lists of Python scalars, as NumPy's `tolist`.

        Returns:
          A (nested) list, or a Python scalar for a 0-d array.
        """
        return np.asarray(self).tolist()

    def __dlpack__(self, *args, **kwargs):
        self._check_alive()
        return self._buf.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._buf.__dlpack_device__()

    def _scalar_value(self, what):
        if self.size != 1:
            raise TypeError(
                f"{what} of an array of shape {self.shape} is ambiguous; "
                "only one-element arrays convert to Python scalars"
            )
        return np.asarray(self).reshape(())[()]

    def __bool__(self):
        return bool(self._scalar_value("the truth value"))

    def __int__(self):
        return int(self._scalar_value("int()"))

    def __float__(self):
        return float(self._scalar_value("float()"))

    def __complex__(self):
        return complex(self._scalar_value("complex()"))

    def __index__(self):
        if not dtypes.is_int(self.dtype) or self.shape != ():
            raise TypeError(
                f"only integer scalar arrays can be used as an index, got {self.aval.str_short()}"
            )
        return int(np.asarray(self))

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of an unsized (0-d) array")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    __hash__ = None  # arrays are mutable-looking values, as in NumPy

    def __repr__(self):
        if self.is_deleted():
            return f"Array(<deleted>, {self.aval.str_short()})"
        body = np.array2string(np.asarray(self), separator=", ", prefix="Array(")
        weak = ", weak_type=True" if self.weak_type else ""
        return f"Array({body}, dtype={self.dtype}{weak})"

    def __str__(self):
        return str(np.asarray(self))

    def __reduce__(self):  # pickling goes through NumPy
        return (_from_numpy, (np.asarray(self), self.weak_type))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self  # immutable


_new_object = object.__new__


def wrap_buffer(buf, aval: ShapedArray) -> Array:
    """An Array for a runtime buffer whose aval is already known (a compiled program's
    output). Skips re-deriving shape and dtype from the buffer: the dispatch fast path
    shares one aval object per output, which also keeps later cache lookups cheap."""
    a = _new_object(Array)
    a._buf = buf
    a.aval = aval
    return a


class Shard:
    """One device's block of an array, as `jax.Shard`.

    Attributes:
      device: the device holding the block.
      index: the block's place in the whole array, a tuple of slices (`slice(None)`
        where a dimension is not split).
      replica_id: 0 for the first device (in the sharding's device order) holding this
        block, 1 for the second, ...
      data: the block, a single-device funcnet `Array`.
    """

    __slots__ = ("data", "device", "index", "replica_id")

    def __init__(self, device, index, replica_id, data):
        self.device = device
        self.index = index
        self.replica_id = replica_id
        self.data = data

    def __repr__(self):
        return (
            f"Shard(device={self.device!r}, index={self.index}, "
            f"replica_id={self.replica_id}, data={self.data!r})"
        )


class ShardedArray(Array):
    """A funcnet `Array` whose data is split (or replicated) over several devices, as a
    multi-device `jax.Array`: what `fn.device_put(x, NamedSharding(...))`, eager ops on
    such arrays and partitioned jitted functions return. It behaves as an `Array`
    (operators, `np.asarray` gathers the blocks); `.sharding` says the layout and
    `.addressable_shards` gives the blocks.

    Its runtime buffer is kept under `_sbuf`, not `_buf`: the single-device dispatch
    fast paths read `x._buf` and, missing it, fall back to the general path, which
    runs partitioned programs; so sharded arrays cost those fast paths nothing.
    """

    __slots__ = ("_sbuf", "_sharding")

    def __init__(self, buf, aval: ShapedArray, sharding):
        self._sbuf = buf
        self.aval = aval
        self._sharding = sharding

    @property
    def device(self):
        """The one device of an array on one device; a ValueError for an array on
        several (jax returns the sharding there; use `.sharding` or `.devices()`)."""
        self._check_alive()
        devs = self._sharding._device_list
        if len(devs) == 1:
            return devs[0]
        raise ValueError(
            f"this Array ({self.aval.str_short()}) is laid out over {len(devs)} devices "
            f"by {self._sharding!r}: it has no single .device; use .sharding or .devices()"
        )

    def devices(self) -> set:
        """The devices holding the array's data (other processes' included).

        Returns:
          A set of devices.
        """
        return set(self._sharding._device_list)

    @property
    def sharding(self):
        """The layout: the `NamedSharding` the array was made with, the one matching a
        compiled program's output layout on its arguments' mesh, or a `TiledSharding`."""
        return self._sharding

    @property
    def is_fully_addressable(self) -> bool:
        """Whether this process holds every block."""
        return self._sharding.is_fully_addressable

    @property
    def is_fully_replicated(self) -> bool:
        """Whether every device holds the whole array."""
        return self._sharding.is_fully_replicated

    @property
    def addressable_shards(self) -> list:
        """The blocks this process holds, in the sharding's device order.

        Returns:
          A list of `Shard`s (device, index, replica_id, data as a single-device Array).
        """
        self._check_alive()
        sharding = self._sharding
        indices = sharding.devices_indices_map(self.shape)
        replicas = dict(zip(sharding._device_list, sharding._replica_ids(self.ndim)))
        return [
            Shard(device, indices[device], replicas[device], Array(buf, self.weak_type))
            for device, buf in spmd.shard_buffers(self._sbuf)
        ]

    def addressable_data(self, index: int) -> Array:
        """The data of the `index`-th addressable shard.

        Args:
          index: a position in `addressable_shards`.

        Returns:
          A single-device `Array`.

        Raises:
          IndexError: no such shard.
        """
        shards = self.addressable_shards
        if not 0 <= index < len(shards):
            raise IndexError(f"addressable_data({index}): this process holds {len(shards)} shards")
        return shards[index].data

    def copy_to_host_async(self) -> None:
        """Starts copying the blocks to the host without waiting.

        Returns:
          None.
        """
        self._check_alive()
        self._sbuf.copy_to_host_async()

    @property
    def buffer(self):
        """The runtime's (sharded) buffer."""
        self._check_alive()
        return self._sbuf

    def _check_alive(self):
        if self._sbuf.is_deleted():
            raise self._deleted_error()

    def is_deleted(self) -> bool:
        """Whether the buffers were freed.

        Returns:
          A bool.
        """
        return self._sbuf.is_deleted()

    def delete(self):
        """Frees the device buffers now.

        Returns:
          None.
        """
        self._sbuf.delete()

    def block_until_ready(self):
        """Waits until every block is computed.

        Returns:
          The array itself.
        """
        self._check_alive()
        self._sbuf.block_until_ready()
        return self

    def __array__(self, dtype=None, copy=None):
        self._check_alive()
        sharding = self._sharding
        if sharding.is_fully_replicated and sharding.addressable_devices:
            arr = xla.to_numpy(spmd.shard_buffers(self._sbuf)[0][1])
        elif not sharding.is_fully_addressable:
            raise RuntimeError(
                f"cannot read the values of this Array ({self.aval.str_short()}, laid out "
                f"by {sharding!r}): it spans devices of other processes; read this "
                "process's blocks with .addressable_shards (as jax refuses, for the same "
                "reason)"
            )
        else:
            indices = sharding.devices_indices_map(self.shape)
            arr = spmd.gather(self._sbuf, indices, self.shape, self.dtype)
        return np.array(arr, dtype=dtype, copy=copy) if dtype is not None or copy else arr

    def __dlpack__(self, *args, **kwargs):
        raise BufferError(
            f"an Array laid out over several devices ({self._sharding!r}) has no single "
            "buffer to share through DLPack; use one of .addressable_shards' data"
        )

    def __dlpack_device__(self):
        raise BufferError("an Array over several devices has no single DLPack device")

    def __repr__(self):
        if not self.is_deleted() and not (
            self._sharding.is_fully_addressable or self._sharding.is_fully_replicated
        ):  # the values are not all here
            return f"Array(shape={self.shape}, dtype={self.dtype}, sharding={self._sharding!r})"
        return super().__repr__()


def wrap_sharded(buf, aval: ShapedArray, sharding) -> ShardedArray:
    """A funcnet Array over a sharded runtime buffer laid out by `sharding`."""
    return ShardedArray(buf, aval, sharding)


def _from_numpy(arr, weak_type=False):
    return Array(xla.device_put(arr), weak_type)


def to_buffer(x, device=None):
    """A device buffer and aval for a concrete value (Array, NumPy array or scalar)."""
    if isinstance(x, Array):
        x._check_alive()
        return (x._buf if type(x) is Array else x._sbuf), x.aval
    if dtypes.is_python_scalar(x):
        dt = dtypes.scalar_dtype(x)
        return (
            xla.device_put(np.asarray(x, dt), device),
            ShapedArray((), dt, dtypes.is_weak_scalar(x)),
        )
    if isinstance(x, (np.ndarray, np.generic)):
        dt = dtypes.canonicalize(x.dtype)
        return xla.device_put(np.asarray(x, dt), device), ShapedArray(x.shape, dt)
    if xla.is_buffer(x):  # a jax array: take its buffer as it is
        dt = dtypes.canonicalize(x.dtype)
        buf = x if dt == x.dtype else xla.device_put(np.asarray(x, dt), device)
        return buf, ShapedArray(x.shape, dt)
    raise TypeError(f"expected an array, got {type(x).__name__}: {x!r:.80}")


def asarray_from_value(x, dtype=None, device=None) -> Array:
    """A funcnet Array for a concrete value, with optional dtype conversion on the host."""
    if isinstance(x, Array) and dtype is None and (device is None or x.device == device):
        return x  # already there: no copy (as jax.device_put)
    if dtype is not None:
        dt = dtypes.canonicalize(dtype)
        return Array(xla.device_put(np.asarray(x, dt), device))
    if isinstance(x, (list, tuple)):
        arr = np.asarray(x)
        if arr.dtype == object:
            raise TypeError(f"cannot build an array from a ragged or mixed sequence: {x!r:.80}")
        return Array(xla.device_put(arr.astype(dtypes.canonicalize(arr.dtype)), device))
    buf, aval = to_buffer(x, device)
    if device is not None and isinstance(x, Array):
        buf = xla.device_put(buf, device)
    return Array(buf, aval.weak_type)


class ShapeDtypeStruct:
    """A shape and dtype without data, as `jax.ShapeDtypeStruct`: stands for an array in
    `fn.eval_shape` and `fn.jit(f).lower(...)`, and is what they return.

    Args:
      shape: a sequence of ints.
      dtype: the dtype (kept as given; funcnet narrows 64-bit ones unless x64 is on when
        the struct is used).
      sharding: keyword only; accepted and kept for compatibility (funcnet places data
        on one device).
      weak_type: keyword only; whether it stands for a weakly typed value (a Python
        scalar).

    Attributes:
      shape, dtype, sharding, weak_type: as given (shape as a tuple, dtype as a NumPy
        dtype).
      ndim, size: the number of dimensions and of elements.
      aval: the `ShapedArray` tracing uses.

    Structs with equal fields are equal and hash alike.

    Example:
      >>> fn.eval_shape(lambda a: a.sum(0), fn.ShapeDtypeStruct((2, 3), fnp.float32))
      ShapeDtypeStruct(shape=(3,), dtype=float32)
    """

    __slots__ = ("dtype", "shape", "sharding", "weak_type")

    def __init__(self, shape, dtype, *, sharding=None, weak_type=False):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.sharding = sharding
        self.weak_type = bool(weak_type)

    ndim = property(lambda self: len(self.shape), doc="The number of dimensions.")
    size = property(
        lambda self: int(np.prod(self.shape, dtype=np.int64)), doc="The number of elements."
    )

    @property
    def aval(self) -> ShapedArray:
        """The abstract value tracing uses (dtype canonicalized)."""
        return ShapedArray(self.shape, dtypes.canonicalize(self.dtype), self.weak_type)

    def _key(self):
        return (self.shape, self.dtype, self.sharding, self.weak_type)

    def __eq__(self, other):
        return isinstance(other, ShapeDtypeStruct) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        extra = (f", sharding={self.sharding!r}" if self.sharding is not None else "") + (
            ", weak_type=True" if self.weak_type else ""
        )
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}{extra})"
