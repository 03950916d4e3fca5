import numpy as np
import pytest

from acie.errors import NonPhysicalValueError, ShapeError
from acie.physics import nbody as nb
from acie.physics.constants import G_KPC_KMS2_PER_MSUN as G


def test_two_body_force_is_newton():
    x = np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]])
    m = np.array([2e10, 1e10])
    a = nb.accelerations(x, m)
    # |a_0| = G m_1 / r^2 toward particle 1, r = 5 kpc; momentum conservation m0 a0 = -m1 a1
    np.testing.assert_allclose(a[0], G * 1e10 / 25 * np.array([0.6, 0.8, 0.0]), rtol=1e-14)
    np.testing.assert_allclose(m[0] * a[0], -m[1] * a[1], rtol=1e-14)


def _fibonacci_shell(n, radius):
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    phi = np.pi * (1 + 5**0.5) * i
    rho = np.sqrt(1 - z**2)
    return radius * np.stack([rho * np.cos(phi), rho * np.sin(phi), z], 1)


def test_shell_theorem():
    # Newton's shell theorem: no force inside a uniform shell, GM/r^2 outside.
    # A 1000-point Fibonacci shell is uniform enough for 1e-4 at these radii.
    shell = _fibonacci_shell(1000, 1.0)
    m_tot = 1e10
    probes = np.array([[0.0, 0.0, 0.0], [0.3, 0.1, -0.2], [3.0, 0.0, 0.0], [0.0, -2.0, 2.0]])
    a = nb.acceleration_field(probes, shell, np.full(1000, m_tot / 1000))
    g_out = G * m_tot / np.array([9.0, 8.0])
    assert np.abs(a[:2]).max() < 1e-4 * G * m_tot
    np.testing.assert_allclose(np.linalg.norm(a[2:], axis=1), g_out, rtol=1e-4)
    # the all-pairs routine agrees with the field routine for a probe of negligible mass
    x = np.vstack([shell[:200], probes[2:3]])
    m = np.concatenate([np.full(200, 1e7), [1e-20]])
    np.testing.assert_allclose(
        nb.accelerations(x, m)[-1],
        nb.acceleration_field(probes[2:3], shell[:200], np.full(200, 1e7))[0],
        rtol=1e-12,
    )


def test_plummer_sphere_energy_and_virial_equilibrium():
    m_tot, a = 1e10, 2.0
    x, v, m = nb.plummer_sphere(2000, mass=m_tot, scale_radius=a, seed=1)
    w = nb.potential_energy(x, m)
    # closed form W = -3 pi G M^2 / (32 a); Monte Carlo error ~ 1/sqrt(N) = 2.2 %: allow 5 %
    assert w == pytest.approx(-3 * np.pi * G * m_tot**2 / (32 * a), rel=0.05)
    # 2T + W = 0
    assert nb.virial_ratio(x, v, m) == pytest.approx(1.0, abs=0.05)


def test_kepler_orbit_with_leapfrog():
    m = np.array([1e11, 1.0])
    r = 10.0
    vc = np.sqrt(G * m[0] / r)
    x = np.array([[0.0, 0, 0], [r, 0, 0]])
    v = np.array([[0.0, 0, 0], [0, vc, 0]])
    period = 2 * np.pi * r / vc  # Kepler, closed form
    steps = 2000
    e0 = nb.kinetic_energy(v, m) + nb.potential_energy(x, m)
    x1, v1 = nb.leapfrog(x, v, m, dt=period / steps, steps=steps)
    # second-order integrator, 2000 steps per orbit: phase error ~ (2 pi / 2000)^2
    np.testing.assert_allclose(x1[1], x[1], atol=1e-3 * r)
    e1 = nb.kinetic_energy(v1, m) + nb.potential_energy(x1, m)
    assert e1 == pytest.approx(e0, rel=1e-6)


def test_force_is_minus_gradient_of_potential_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(20, 3)), dtype=torch.float64, requires_grad=True)
    m = torch.tensor(rng.uniform(1, 2, 20) * 1e9, dtype=torch.float64)
    w = nb.potential_energy(x, m, softening=0.1)
    (grad,) = torch.autograd.grad(w, x)
    a = nb.accelerations(x.detach(), m, softening=0.1)
    np.testing.assert_allclose((-grad / m[:, None]).numpy(), a.numpy(), rtol=1e-10)
    np.testing.assert_allclose(
        a.numpy(), nb.accelerations(x.detach().numpy(), m.numpy(), softening=0.1), rtol=1e-12
    )


def test_bad_input():
    with pytest.raises(ShapeError):
        nb.accelerations(np.zeros((3, 2)), np.ones(3))
    with pytest.raises(ShapeError):
        nb.accelerations(np.zeros((3, 3)), np.ones(2))
    with pytest.raises(NonPhysicalValueError, match="coincide"):
        nb.accelerations(np.zeros((2, 3)), np.ones(2))
    with pytest.raises(NonPhysicalValueError):
        nb.accelerations(np.zeros((2, 3)), np.ones(2), softening=-1.0)
