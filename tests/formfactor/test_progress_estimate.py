"""Time estimates and stage-by-stage progress of a form-factor run (no PySCF needed)."""

from __future__ import annotations

import io

import pytest

from acie.darkmatter.formfactor.estimate import estimate_run, format_duration
from acie.darkmatter.formfactor.progress import Progress

# Si, GTH-DZVP, PySCF default cutoff: 41³ grid, 26 AOs, 459 lattice images
SI_DZVP = dict(n_ao=26, n_grid=41**3, n_images=459)
QUIET = dict(load=0.0, cores=2)


@pytest.mark.parametrize(("n_k", "cpu_seconds"), [(1, 52.3), (2, 67.3), (8, 110.2)])
def test_scf_estimate_reproduces_the_measured_calibration_runs(n_k, cpu_seconds):
    # measured CPU time of KRKS for Si/GTH-DZVP/PBE (see the estimate module docstring);
    # the estimate is wall time on a quiet 2-thread machine = CPU / 1.6
    est = estimate_run(n_k=n_k, n_q_vectors=0, **SI_DZVP, **QUIET)
    assert est.scf_s * 1.6 == pytest.approx(cpu_seconds, rel=0.15)


def test_k_pair_estimate_matches_the_measured_cost_per_q_vector():
    # measured 4.6 CPU-s per Si 2×2×2 pair of 979 q-vectors (n_q = 300), single-threaded
    est = estimate_run(n_k=8, n_q_vectors=979, run_scf=False, **SI_DZVP, **QUIET)
    assert est.pairs_s == pytest.approx(4.6, rel=0.3)
    assert est.scf_s == 0.0


def test_estimate_scales_with_work_workers_and_load():
    base = dict(n_k=8, n_q_vectors=36_000, **SI_DZVP)
    quiet = estimate_run(**base, **QUIET)
    assert quiet.slowdown == 1.0
    assert "load" not in quiet.summary()
    assert 2 * 60 < quiet.total_s < 8 * 60  # Si 2×2×2: ~4 min on a quiet 2-core machine
    two = estimate_run(**base, n_workers=2, threads=1, **QUIET)
    assert two.pairs_s == pytest.approx(quiet.pairs_s / 2)
    assert estimate_run(**{**base, "n_k": 27}, **QUIET).scf_s > quiet.scf_s
    bigger_basis = estimate_run(**{**base, "n_ao": 38}, **QUIET)
    assert bigger_basis.scf_s > quiet.scf_s
    assert bigger_basis.pairs_s > quiet.pairs_s
    busy = estimate_run(**base, load=6.0, cores=2)
    assert busy.slowdown == pytest.approx(4.0)
    assert busy.total_s > 3.5 * quiet.total_s
    text = busy.summary()
    assert "estimate" in text
    assert "×4.0" in text
    assert "load 6.0 on 2 cores" in text
    assert "×2" in text  # the stated uncertainty


@pytest.mark.parametrize(
    ("seconds", "approx", "text"),
    [
        (3, True, "< 5 s"),
        (42, True, "~40 s"),
        (421, True, "~7 min"),
        (7200, True, "~2.0 h"),
        (0.25, False, "0.2 s"),
        (412, False, "6 min 52 s"),
        (None, True, "unknown"),
    ],
)
def test_format_duration(seconds, approx, text):
    assert format_duration(seconds, approx=approx) == text


def test_stages_in_a_log_print_headers_estimates_and_durations():
    out = io.StringIO()  # not a terminal: plain lines
    p = Progress(stream=out)
    with p.stage("structure", 12.0):
        p.note("8 k-points")
    p.skip("SCF", "bands from the checkpoint")
    with p.stage("k-pair blocks", 300.0):
        bar = p.bar(total=3, desc="k-pair blocks", unit="block")
        for _ in range(3):
            bar.update(1)
        bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "[1/4] structure (estimate ~10 s)"
    assert lines[1].strip() == "8 k-points"
    assert lines[2].strip().startswith("done in")
    assert lines[3] == "[2/4] SCF: bands from the checkpoint"
    assert lines[4] == "[3/4] k-pair blocks (estimate ~5 min)"
    assert "k-pair blocks: 1/3 blocks" in lines[5]
    assert "left" in lines[5]
    assert "left" not in lines[-2]
    assert "k-pair blocks: 3/3 blocks" in lines[-2]
    assert lines[-1].strip().startswith("done in")


def test_scf_monitor_reports_setup_and_every_cycle():
    class FakeSCF:  # stands in for pyscf's KRKS: the two hooks PySCF calls
        pre_kernel = callback = None

    out = io.StringIO()
    p = Progress(stream=out)
    mf = FakeSCF()
    with p.scf(conv_tol=1e-8) as install:
        install(mf)
        mf.pre_kernel({})
        for e in (-7.0, -7.5, -7.5001):
            mf.callback({"e_tot": e, "last_hf_e": e + 0.1})
    text = out.getvalue()
    assert "SCF setup (integrals, initial guess) took" in text
    cycles = [line for line in text.splitlines() if "SCF: cycle" in line]
    assert len(cycles) == 3
    assert "cycle 3" in cycles[-1]
    assert "ΔE -1.0e-01 Ha (converged below 1e-08)" in cycles[0]
    assert "s/cycle" in cycles[0]
    assert text.splitlines()[-1].strip().endswith("3 cycles")


def test_a_terminal_gets_live_bars_and_a_disabled_reporter_prints_nothing():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tty = Terminal()
    p = Progress(stream=tty)
    with p.stage("k-pair blocks", 1.0):
        bar = p.bar(total=2, desc="k-pair blocks", unit="block")
        with p.heartbeat(bar):
            bar.update(2)
        bar.close()
    assert "\r" in tty.getvalue()
    assert "2/2" in tty.getvalue()
    quiet = io.StringIO()
    p = Progress(enabled=False, stream=quiet)
    with p.stage("structure", 1.0), p.scf(1e-8) as install:
        install(type("M", (), {})())
        p.bar(total=1, desc="x", unit="block").update(1)
        p.note("hidden")
    assert quiet.getvalue() == ""
