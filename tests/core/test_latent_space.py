"""Latent geometry: interpolation, slider bases and planes for latent maps."""
import numpy as np
import pytest

from studio.core.latent_space.basis import LatentBasis, interpolate, lerp, slerp


def test_slerp_keeps_the_norm_where_lerp_cuts_the_corner():
    a, b = np.random.default_rng(0).standard_normal((2, 16))
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    np.testing.assert_allclose([slerp(a, b, 0.0), slerp(a, b, 1.0)], [a, b], atol=1e-12)
    for t in np.linspace(0, 1, 7):
        assert np.linalg.norm(slerp(a, b, t)) == pytest.approx(np.linalg.norm(a), rel=1e-9)
    assert np.linalg.norm(lerp(a, b, 0.5)) < 0.95 * np.linalg.norm(a)
    # degenerate cases fall back to a straight line
    np.testing.assert_allclose(slerp(np.zeros(3), np.ones(3), 0.25), np.full(3, 0.25))
    np.testing.assert_allclose(slerp(np.ones(3), 2 * np.ones(3), 0.5), np.full(3, 1.5))


def test_interpolate_shapes_modes_and_errors():
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
    for mode in ("lerp", "slerp"):
        path = interpolate(a, b, 5, mode)
        assert path.shape == (5, 3) and path.dtype == np.float32
        np.testing.assert_allclose(path[[0, -1]], [a, b], atol=1e-6)
    np.testing.assert_allclose(interpolate(a, b, 3, "lerp")[1], [0.5, 1.0, 0.0])
    with pytest.raises(ValueError, match="mode"):
        interpolate(a, b, 5, "cubic")
    with pytest.raises(ValueError, match="2 frames"):
        interpolate(a, b, 1)


def test_axes_basis_is_the_identity():
    basis = LatentBasis.axes(3)
    assert basis.names == ["z1", "z2", "z3"] and len(basis) == basis.dim == 3 and basis.explained is None
    z = np.array([0.5, -2.0, 3.0], np.float32)
    coords, residual = basis.to_coords(z)
    assert np.array_equal(coords, z) and not residual.any() and np.array_equal(basis.to_latent(coords), z)


def anisotropic(n=2000, seed=0):
    """Codes with standard deviations 5, 1, 0.2 along the rows of a random rotation, centred at 3."""
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    return (rng.standard_normal((n, 3)) * [5.0, 1.0, 0.2]) @ rotation + 3.0, rotation


def test_principal_finds_the_main_axes_in_order():
    codes, axes = anisotropic()
    basis = LatentBasis.principal(codes, 3)
    assert basis.names == ["PC1", "PC2", "PC3"]
    assert abs(basis.directions[0] @ axes[0]) > 0.999 and abs(basis.directions[1] @ axes[1]) > 0.99
    np.testing.assert_allclose(basis.directions @ basis.directions.T, np.eye(3), atol=1e-5)
    np.testing.assert_allclose(basis.origin, codes.mean(0), rtol=1e-5)
    np.testing.assert_allclose(basis.scales, [5.0, 1.0, 0.2], rtol=0.05)
    assert np.all(np.diff(basis.explained) < 0) and basis.explained.sum() == pytest.approx(1.0, abs=1e-5)
    assert LatentBasis.principal(codes, 2).explained.sum() < 1.0
    assert len(LatentBasis.principal(codes, 10)) == 3  # never more directions than dimensions
    coords, _ = basis.to_coords(codes)  # slider units: one standard deviation of the data
    np.testing.assert_allclose(coords.std(0, ddof=1), 1.0, rtol=1e-3)


def test_coords_round_trip_with_the_residual_outside_a_partial_basis():
    codes, _ = anisotropic()
    basis = LatentBasis.principal(codes, 2)
    z = np.array([4.0, -1.0, 2.5], np.float32)
    coords, residual = basis.to_coords(z)
    assert coords.shape == (2,) and residual.shape == (3,)
    np.testing.assert_allclose(basis.to_latent(coords, residual), z, atol=1e-5)
    np.testing.assert_allclose(basis.directions @ residual, 0, atol=1e-5)  # orthogonal to the basis
    assert np.linalg.norm(residual) > 0.1
    many = np.stack([z, 2 * z, -z])
    c, r = basis.to_coords(many)
    assert c.shape == (3, 2) and r.shape == (3, 3)
    np.testing.assert_allclose(c, np.stack([basis.to_coords(v)[0] for v in many]), atol=1e-5)
    np.testing.assert_allclose(r, np.stack([basis.to_coords(v)[1] for v in many]), atol=1e-5)
    np.testing.assert_allclose(basis.to_latent(c, r), many, atol=1e-4)


@pytest.mark.parametrize("partial", [False, True])
def test_plane_through_z(partial):
    codes, _ = anisotropic()
    basis = LatentBasis.principal(codes, 2) if partial else LatentBasis.axes(3)
    z = np.array([1.0, -0.5, 2.0], np.float32)
    i, j, n = (0, 1, 5) if partial else (0, 2, 5)
    points = basis.plane(z, i, j, n, extent=3.0)
    assert points.shape == (n * n, 3) and points.dtype == np.float32
    coords, residual = basis.to_coords(points)
    zc, zr = basis.to_coords(z)
    grid = coords.reshape(n, n, len(basis))
    others = [k for k in range(len(basis)) if k not in (i, j)]
    np.testing.assert_allclose(grid[..., others], np.broadcast_to(zc[others], grid[..., others].shape), atol=1e-4)
    np.testing.assert_allclose(residual, np.broadcast_to(zr, residual.shape), atol=1e-4)
    np.testing.assert_allclose(grid[0, :, j], 3.0, atol=1e-4)  # top row: coordinate j = +extent
    np.testing.assert_allclose(grid[-1, :, j], -3.0, atol=1e-4)
    np.testing.assert_allclose(grid[n // 2, :, j], 0.0, atol=1e-4)  # centre row, centre column
    np.testing.assert_allclose(grid[:, n // 2, i], 0.0, atol=1e-4)
    np.testing.assert_allclose(grid[:, :, i], np.tile(np.linspace(-3, 3, n), (n, 1)), atol=1e-4)  # left to right
