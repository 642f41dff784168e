"""funcnet.data.augment against independent NumPy implementations.

The reference draws the same random numbers with jax.random (bit-identical to
funcnet.random for keys, split, bits, uniform and randint; beta and normal to the last
ulp), following the draws each docstring names: one key per example,
``random.split(key, N)``. Then it crops, flips, erases and mixes with NumPy. So these
tests check the documented draws, the per-example rule and the image arithmetic, not
funcnet against itself. Images are small (8x8x1, 4 examples): every eager call with new
options compiles one program; jit, vmap and grad are checked on a representative few.
"""

import functools

import jax
import numpy as np
import pytest

import funcnet as fn
from funcnet import random
from funcnet.data import augment
from funcnet.data.augment import host

N, H, W, C = 4, 8, 8, 1
SEED = 3


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).normal(size=(N, H, W, C)).astype(np.float32)


def _key(seed=SEED):
    return random.key(seed)


def _jax_keys(seed=SEED, n=N):
    """The per-example keys the batch form uses, made by jax."""
    return jax.random.split(jax.random.PRNGKey(seed), n)


def _per_example(draw, seed=SEED, n=N):
    """`draw(k)` for each per-example key, with jax.random, as NumPy."""
    return np.asarray(jax.vmap(draw)(_jax_keys(seed, n)))


# --- geometric ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "size, padding, mode, fill",
    [((8, 8), 2, "constant", 0.0), ((6, 7), (1, 2), "constant", -1.5), ((8, 8), 1, "reflect", 0)],
)
def test_random_crop_matches_numpy(images, size, padding, mode, fill):
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    got = augment.random_crop(_key(), images, size, padding, pad_mode=mode, fill=fill)
    bounds = np.array([H + 2 * ph - size[0] + 1, W + 2 * pw - size[1] + 1])
    offsets = _per_example(lambda k: jax.random.randint(k, (2,), 0, bounds))
    options = {"constant_values": fill} if mode == "constant" else {}
    want = []
    for image, (top, left) in zip(images, offsets):
        padded = np.pad(image, ((ph, ph), (pw, pw), (0, 0)), mode=mode, **options)
        want.append(padded[top : top + size[0], left : left + size[1]])
    assert got.dtype == np.float32 and got.shape == (N, *size, C)
    np.testing.assert_array_equal(np.asarray(got), np.stack(want))
    # each example drew its own window (the test's key makes them differ)
    assert len({tuple(o) for o in offsets}) > 1


def test_random_crop_integer_images_keep_dtype():
    x = np.arange(N * H * W * C, dtype=np.uint8).reshape(N, H, W, C)
    got = augment.random_crop(_key(), x, 8, padding=2)
    assert got.dtype == np.uint8
    bounds = np.array([2 * 2 + 1, 2 * 2 + 1])
    offsets = _per_example(lambda k: jax.random.randint(k, (2,), 0, bounds))
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
    want = [p[t : t + 8, s : s + 8] for p, (t, s) in zip(padded, offsets)]
    np.testing.assert_array_equal(np.asarray(got), np.stack(want))


@pytest.mark.parametrize("which, axis", [("left_right", 1), ("up_down", 0)])
def test_random_flips_match_numpy(images, which, axis):
    flip = getattr(augment, f"random_flip_{which}")
    n = 8
    x = np.concatenate([images, images[::-1] * 2])
    got = np.asarray(flip(_key(), x, p=0.5))
    flags = _per_example(lambda k: jax.random.bernoulli(k, 0.5), n=n)
    assert flags.any() and not flags.all()  # the case can tell flipped from not
    want = np.stack([np.flip(im, axis) if f else im for im, f in zip(x, flags)])
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.asarray(flip(_key(), x, p=0.0)), x)
    np.testing.assert_array_equal(np.asarray(flip(_key(), x, p=1.0)), np.flip(x, axis + 1))


def test_random_rot90_matches_numpy(images):
    got = np.asarray(augment.random_rot90(_key(), images))
    turns = _per_example(lambda k: jax.random.randint(k, (), 0, 4))
    assert len(set(turns.tolist())) > 1
    want = np.stack([np.rot90(im, t, axes=(0, 1)) for im, t in zip(images, turns)])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("size", [3, (5, 2)])
def test_cutout_matches_numpy(images, size):
    hh, ww = (size, size) if isinstance(size, int) else size
    got = np.asarray(augment.cutout(_key(), images, size, fill=-7.0))
    centres = _per_example(lambda k: jax.random.randint(k, (2,), 0, np.array([H, W])))
    want = images.copy()
    for image, (cy, cx) in zip(want, centres):
        top, left = cy - hh // 2, cx - ww // 2
        image[max(top, 0) : max(top + hh, 0), max(left, 0) : max(left + ww, 0)] = -7.0
    np.testing.assert_array_equal(got, want)
    assert (got == -7.0).sum() > 0


# --- photometric ---------------------------------------------------------------------


def test_random_brightness_matches_numpy(images):
    got = np.asarray(augment.random_brightness(_key(), images, 0.5))
    delta = _per_example(lambda k: jax.random.uniform(k, (), np.float32, -0.5, 0.5))
    np.testing.assert_allclose(got, images + delta[:, None, None, None], rtol=1e-6, atol=1e-6)
    clipped = np.asarray(augment.random_brightness(_key(), images, 0.5, clip=(0.0, 1.0)))
    want = np.clip(images + delta[:, None, None, None], 0.0, 1.0)
    np.testing.assert_allclose(clipped, want, rtol=1e-6, atol=1e-6)
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0 and got.min() < 0.0  # clip only if asked


def test_random_contrast_matches_numpy(images):
    got = np.asarray(augment.random_contrast(_key(), images, 0.2, 1.8))
    factor = _per_example(lambda k: jax.random.uniform(k, (), np.float32, 0.2, 1.8))
    mean = images.mean(axis=(1, 2), keepdims=True)
    want = (images - mean) * factor[:, None, None, None] + mean
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_gaussian_noise_matches_numpy(images):
    got = np.asarray(augment.gaussian_noise(_key(), images, 0.3))
    noise = _per_example(lambda k: jax.random.normal(k, (H, W, C), np.float32))
    np.testing.assert_allclose(got, images + 0.3 * noise, rtol=1e-5, atol=1e-5)
    # independent per example: no two examples got the same noise
    assert not np.allclose(noise[0], noise[1])


# --- the per-example rule, jit, vmap, determinism -----------------------------------

RULE_CASES = {
    "crop": lambda k, x: augment.random_crop(k, x, (6, 6), padding=1),
    "compose": augment.compose(
        augment.random_flip_left_right, lambda k, x: augment.cutout(k, x, 2, fill=9.0)
    ),
}


@pytest.mark.parametrize("name", sorted(RULE_CASES))
def test_batch_equals_vmap_over_split_keys_and_jit(images, name):
    f = RULE_CASES[name]
    key = _key()
    batch = np.asarray(f(key, images))
    mapped = np.asarray(fn.jit(fn.vmap(f))(random.split(key, N), images))
    np.testing.assert_allclose(mapped, batch, rtol=1e-6, atol=1e-6)
    jitted = np.asarray(fn.jit(f)(key, images))
    np.testing.assert_allclose(jitted, batch, rtol=1e-6, atol=1e-6)
    # one image with key k is example i of a batch whose i-th key is k
    single = np.asarray(f(random.split(key, N)[2], images[2]))
    np.testing.assert_allclose(single, batch[2], rtol=1e-6, atol=1e-6)
    # deterministic for a key, different for another
    np.testing.assert_array_equal(np.asarray(f(key, images)), batch)
    assert not np.allclose(np.asarray(f(_key(SEED + 1), images)), batch)


def test_traced_parameters_inside_jit(images):
    """A schedule may feed stddev / p / max_delta as traced values."""

    @fn.jit
    def step(key, x, stddev, p):
        x = augment.gaussian_noise(key, x, stddev)
        return augment.random_flip_up_down(key, x, p)

    got = np.asarray(step(_key(), images, np.float32(0.0), np.float32(0.0)))
    np.testing.assert_allclose(got, images, atol=0)
    assert not np.allclose(
        np.asarray(step(_key(), images, np.float32(0.5), np.float32(0.0))), images
    )


# --- gradients -------------------------------------------------------------------------


def test_gradients_flow_through_crop_and_noise(images):
    w = np.random.default_rng(1).normal(size=(N, 6, 6, C)).astype(np.float32)

    def loss(x, stddev):
        y = augment.random_crop(_key(), x, 6, padding=1)
        return (augment.gaussian_noise(_key(SEED + 1), y, stddev) * w).sum()

    grad_x, grad_stddev = fn.grad(loss, argnums=(0, 1))(images, np.float32(0.1))
    # d/dx: w scattered back to where each window came from (padding has no gradient)
    offsets = _per_example(lambda k: jax.random.randint(k, (2,), 0, np.array([5, 5])))
    want = np.zeros((N, H + 2, W + 2, C), np.float32)
    for g, o, wi in zip(want, offsets, w):
        g[o[0] : o[0] + 6, o[1] : o[1] + 6] = wi
    np.testing.assert_allclose(np.asarray(grad_x), want[:, 1:-1, 1:-1], rtol=1e-6)
    # d/dstddev: the noise itself, weighted
    noise = _per_example(lambda k: jax.random.normal(k, (6, 6, C), np.float32), seed=SEED + 1)
    np.testing.assert_allclose(float(grad_stddev), (noise * w).sum(), rtol=1e-4)


# --- mixup / cutmix ----------------------------------------------------------------------


def _one_hot(labels, k=3):
    return np.eye(k, dtype=np.float32)[labels]


LABELS = np.array([0, 1, 2, 1])


@functools.cache
def _jax_keys_lam_box():
    return jax.random.split(jax.random.PRNGKey(SEED))


@functools.cache
def _jax_lam():
    """lam ~ Beta(1, 1) drawn from cutmix's lam key (compiling a beta sampler is slow:
    the mixup test draws from the same key to share this one)."""
    return np.asarray(jax.random.beta(_jax_keys_lam_box()[0], 1.0, 1.0, (), np.float32))


def test_mixup_matches_numpy_and_differentiates(images):
    y = _one_hot(LABELS)
    key = random.split(_key())[0]  # cutmix's lam key: the same lam as there
    # vjp gives the values and the pullback from one linearization (one compile)
    (xm, ym), pullback = fn.vjp(lambda x: augment.mixup(key, x, y, alpha=1.0), images)
    lam = _jax_lam()
    want_x = lam * images + (1 - lam) * np.roll(images, 1, axis=0)
    want_y = lam * y + (1 - lam) * np.roll(y, 1, axis=0)
    np.testing.assert_allclose(np.asarray(xm), want_x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ym), want_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ym).sum(axis=1), 1.0, rtol=1e-6)
    assert xm.dtype == np.float32 and ym.shape == (N, 3) and 0.0 < lam < 1.0
    # d/dx sum(w * x_out): each example gives lam * w to itself and (1 - lam) * w to the
    # example after it, whose partner it is
    w = np.random.default_rng(2).normal(size=images.shape).astype(np.float32)
    (grad,) = pullback((w, np.zeros_like(y)))
    want = lam * w + (1 - lam) * np.roll(w, -1, axis=0)
    np.testing.assert_allclose(np.asarray(grad), want, rtol=1e-5, atol=1e-5)


def test_mixup_per_example_and_integer_labels(images):
    xm, ym = augment.mixup(_key(), images, LABELS, 0.4, per_example=True, num_classes=3)
    xm, ym = np.asarray(xm), np.asarray(ym)
    # LABELS differ from their partners', so each row shows its example's lam
    lam = ym[np.arange(N), LABELS]
    assert len(set(np.round(lam, 6).tolist())) == N  # one lam per example
    want_x = lam[:, None, None, None] * images + (1 - lam[:, None, None, None]) * np.roll(
        images, 1, axis=0
    )
    np.testing.assert_allclose(xm, want_x, rtol=1e-5, atol=1e-5)
    want_y = lam[:, None] * _one_hot(LABELS) + (1 - lam[:, None]) * _one_hot(np.roll(LABELS, 1))
    np.testing.assert_allclose(ym, want_y, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ym.sum(axis=1), 1.0, rtol=1e-6)


def _cutmix_numpy(x, y, lam, centre):
    """torchvision.transforms.v2.CutMix's box and label rule for one lam and centre."""
    rows, cols = x.shape[1:3]
    half = np.float32(0.5) * np.sqrt(np.float32(1) - lam)
    half_h, half_w = int(np.floor(half * rows)), int(np.floor(half * cols))
    cy, cx = centre
    top, bottom = max(cy - half_h, 0), min(cy + half_h, rows)
    left, right = max(cx - half_w, 0), min(cx + half_w, cols)
    lam_box = 1 - (bottom - top) * (right - left) / (rows * cols)
    return (top, bottom, left, right), lam_box


def _pixels_from(x, i):
    """Example i of a batch where each example is filled with its index: where it holds
    its partner's (i - 1) pixels."""
    return x[i, :, :, 0] == (i - 1) % len(x)


def test_cutmix_matches_torchvision_rule():
    rows, cols = 8, 8
    # example i is filled with the value i, so the pasted share can be counted
    x = np.broadcast_to(np.arange(N, dtype=np.float32)[:, None, None, None], (N, rows, cols, C))
    y = _one_hot(LABELS)
    xm, ym = augment.cutmix(_key(), x, y, alpha=1.0)
    xm, ym = np.asarray(xm), np.asarray(ym)
    lam = _jax_lam()
    centre = np.asarray(jax.random.randint(_jax_keys_lam_box()[1], (2,), 0, np.array([rows, cols])))
    (top, bottom, left, right), lam_box = _cutmix_numpy(x, y, lam, centre)
    want_x = x.copy()
    want_x[:, top:bottom, left:right] = np.roll(x, 1, axis=0)[:, top:bottom, left:right]
    want_y = lam_box * y + (1 - lam_box) * np.roll(y, 1, axis=0)
    np.testing.assert_array_equal(xm, want_x)
    np.testing.assert_allclose(ym, want_y, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ym.sum(axis=1), 1.0, rtol=1e-6)
    assert 0 < (bottom - top) * (right - left) < rows * cols  # a box that is neither


def test_cutmix_per_example_inside_jit():
    x = np.broadcast_to(np.arange(N, dtype=np.float32)[:, None, None, None], (N, 8, 8, C))
    y = _one_hot(LABELS)
    # through the user's jit, as inside a training step
    xm, ym = fn.jit(lambda k, x: augment.cutmix(k, x, y, per_example=True))(_key(), x)
    xm, ym = np.asarray(xm), np.asarray(ym)
    boxes = []
    for i in range(N):
        pasted = _pixels_from(xm, i)
        assert (pasted | (xm[i, :, :, 0] == i)).all()  # own pixels or the partner's
        # the pasted part is one box: rows x columns
        rows, cols = pasted.any(axis=1), pasted.any(axis=0)
        np.testing.assert_array_equal(pasted, np.outer(rows, cols))
        for line in (rows, cols):
            where = np.flatnonzero(line)
            assert where.size == 0 or where[-1] - where[0] + 1 == where.size  # contiguous
        # the partner's label weight is its share of the pixels (LABELS differ from their
        # partners', so the weight is one entry of the row)
        np.testing.assert_allclose(ym[i, LABELS[(i - 1) % N]], pasted.mean(), atol=1e-6)
        boxes.append(pasted.tobytes())
    np.testing.assert_allclose(ym.sum(axis=1), 1.0, rtol=1e-6)
    assert len(set(boxes)) > 1  # each example drew its own box


# --- compose / random_apply ------------------------------------------------------------


def test_compose_chains_with_split_keys(images):
    crop = lambda k, x: augment.random_crop(k, x, 8, padding=2)  # noqa: E731
    got = np.asarray(augment.compose(crop, augment.random_rot90)(_key(), images[0]))
    k0, k1 = jax.random.split(jax.random.PRNGKey(SEED))  # one key per function, in order
    top, left = np.asarray(jax.random.randint(k0, (2,), 0, np.array([5, 5])))
    turns = int(jax.random.randint(k1, (), 0, 4))
    cropped = np.pad(images[0], ((2, 2), (2, 2), (0, 0)))[top : top + 8, left : left + 8]
    np.testing.assert_array_equal(got, np.rot90(cropped, turns, axes=(0, 1)))
    np.testing.assert_array_equal(np.asarray(augment.compose()(_key(), images)), images)


def test_random_apply_matches_numpy(images):
    x = np.concatenate([images, images + 1.0])
    got = np.asarray(augment.random_apply(augment.random_flip_up_down, 0.5)(_key(), x))
    keys = _jax_keys(n=8)
    want = []
    for image, k in zip(x, keys):
        k_apply, k_fn = jax.random.split(k)
        apply = bool(jax.random.bernoulli(k_apply, 0.5))
        flip = bool(jax.random.bernoulli(k_fn, 0.5))
        want.append(image[::-1] if apply and flip else image)
    np.testing.assert_array_equal(got, np.stack(want))


# --- host twins --------------------------------------------------------------------------


def test_host_crop_and_flips_match_numpy(images):
    got = host.random_crop(np.random.default_rng(5), images, (6, 7), padding=(1, 2))
    rng = np.random.default_rng(5)
    padded = np.pad(images, ((0, 0), (1, 1), (2, 2), (0, 0)))
    want = []
    for p in padded:
        top, left = rng.integers(0, 10 - 6 + 1), rng.integers(0, 12 - 7 + 1)
        want.append(p[top : top + 6, left : left + 7])
    np.testing.assert_array_equal(got, np.stack(want))
    assert isinstance(got, np.ndarray) and got.shape == (N, 6, 7, C)

    got = host.random_flip_left_right(np.random.default_rng(6), images)
    rng = np.random.default_rng(6)
    want = np.stack([im[:, ::-1] if rng.random() < 0.5 else im for im in images])
    np.testing.assert_array_equal(got, want)
    one = host.random_flip_up_down(np.random.default_rng(0), images[0], p=1.0)
    np.testing.assert_array_equal(one, images[0][::-1])
    rot = host.random_rot90(np.random.default_rng(7), images)
    rng = np.random.default_rng(7)
    np.testing.assert_array_equal(
        rot, np.stack([np.rot90(im, rng.integers(0, 4), axes=(0, 1)) for im in images])
    )
    erased = host.cutout(np.random.default_rng(8), images, (3, 2), fill=5.0)
    rng, want = np.random.default_rng(8), images.copy()
    for image in want:
        cy, cx = rng.integers(0, H), rng.integers(0, W)
        image[max(cy - 1, 0) : cy + 2, max(cx - 1, 0) : cx + 1] = 5.0
    np.testing.assert_array_equal(erased, want)
    assert (erased == 5.0).any() and not (images == 5.0).any()
    assert host.random_crop(np.random.default_rng(0), images[:0], 4).shape == (0, 4, 4, C)


def test_host_maps_in_a_loader_replay_the_batch_generator(images):
    """Loader calls a map with a parameter named rng as map(example, rng), one generator
    per batch, np.random.default_rng([seed, batch number]), shared by its examples in
    order: the crops can be replayed."""
    from funcnet import data

    x = np.concatenate([images, images[::-1]])
    crop = host.map_field("image", host.random_crop, 6, padding=1)
    loader = data.Loader(
        data.from_arrays(image=x, label=np.arange(8)), batch_size=4, seed=5, map=crop
    )
    got = np.concatenate([np.asarray(b["image"]) for b in loader])
    want = []
    for number in range(2):
        rng = np.random.default_rng([5, number])
        want += [
            host.random_crop(rng, image, 6, padding=1) for image in x[4 * number : 4 * number + 4]
        ]
    np.testing.assert_array_equal(got, np.stack(want))
    with pytest.raises(KeyError, match=r"no field 'image' \(it has \['pixels'\]\)"):
        crop({"pixels": images[0]}, np.random.default_rng(0))


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda x: augment.random_crop(_key(), x[0, :, :, 0], 4), ValueError, r"\(8, 8\)"),
        (lambda x: augment.random_flip_left_right(_key(), x[None]), ValueError, r"1, 4, 8, 8, 1"),
        (
            lambda x: augment.random_crop(_key(), x, 11, padding=1),
            ValueError,
            "larger than the padded image \\(10, 10\\)",
        ),
        (lambda x: augment.random_crop(_key(), x, 4, pad_mode="mirror"), ValueError, "pad_mode"),
        (lambda x: augment.random_crop(_key(), x, (4, 4, 4)), TypeError, "size"),
        (
            lambda x: augment.random_flip_up_down(_key(), x, p=1.5),
            ValueError,
            r"p must be in \[0.0, 1.0\], got 1.5",
        ),
        (lambda x: augment.random_apply(augment.random_rot90, -0.1), ValueError, "p must be in"),
        (
            lambda x: augment.random_rot90(_key(), x[:, :, :6]),
            ValueError,
            r"square.*\(4, 8, 6, 1\)",
        ),
        (
            lambda x: augment.mixup(_key(), x, _one_hot(LABELS), alpha=0.0),
            ValueError,
            r"alpha must be in \(0.0, inf\], got 0.0",
        ),
        (lambda x: augment.cutmix(_key(), x, _one_hot(LABELS), alpha=-1), ValueError, "alpha"),
        (
            lambda x: augment.cutmix(_key(), x[0], _one_hot(LABELS)),
            ValueError,
            r"batch of images.*\(8, 8, 1\)",
        ),
        (
            lambda x: augment.mixup(_key(), x, _one_hot(LABELS[:3])),
            ValueError,
            r"leading size 4, got shape \(3, 3\)",
        ),
        (lambda x: augment.mixup(_key(), x, LABELS), ValueError, "num_classes"),
        (
            lambda x: augment.gaussian_noise(_key(), x.astype(np.int32), 0.1),
            TypeError,
            "floating dtype",
        ),
        (lambda x: augment.gaussian_noise(_key(), x, -0.1), ValueError, "stddev"),
        (lambda x: augment.random_contrast(_key(), x, 1.5, 0.5), ValueError, "upper"),
        (
            lambda x: augment.random_flip_left_right(random.split(_key(), 4), x),
            TypeError,
            "ONE key",
        ),
        (lambda x: augment.random_apply(augment.random_crop, 0.5)(_key(), x), TypeError, "size"),
        (lambda x: augment.compose(augment.random_rot90, "flip"), TypeError, "argument 1"),
        (
            lambda x: host.random_crop(np.random.default_rng(0), x, 11, padding=1),
            ValueError,
            "larger than the padded",
        ),
        (
            lambda x: host.random_flip_left_right(np.random.default_rng(0), x, p=2),
            ValueError,
            "p must be in",
        ),
        (lambda x: host.random_crop(0, x, 4), TypeError, "Generator"),
        (lambda x: host.random_rot90(np.random.default_rng(0), x[0, 0]), ValueError, r"\(8, 1\)"),
    ],
)
def test_bad_input_names_the_argument(images, call, error, match):
    with pytest.raises(error, match=match):
        call(images)


def test_random_apply_rejects_a_shape_change(images):
    crop = augment.random_apply(lambda k, x: augment.random_crop(k, x, 4), 0.5)
    with pytest.raises(ValueError, match=r"maps \(8, 8, 1\) to \(4, 4, 1\)"):
        crop(_key(), images)
