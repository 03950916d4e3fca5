"""Stage-by-stage progress of a form-factor run, written to stderr.

A run has four stages — structure (cell, k-points, G-vectors), SCF, k-pair blocks,
normalisation and writing — and :class:`Progress` prints a header for each with its
estimated time, a live line while it runs (the SCF one per cycle, via PySCF's ``callback``
and ``pre_kernel`` hooks; the k-pair one per block, with tqdm's rate-based ETA) and the
time it took. A heartbeat redraws the live line every second on a terminal, so a long SCF
cycle still shows the clock moving. Disabled, it prints nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from acie.darkmatter.formfactor.estimate import TYPICAL_SCF_CYCLES, format_duration

__all__ = ["Progress"]


class _Heartbeat:
    """Redraw a tqdm bar every ``interval`` seconds from a daemon thread (terminals only)."""

    def __init__(self, bar, interval: float = 1.0) -> None:
        self._bar = bar
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="acie-progress", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._bar.refresh()

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class _Lines:
    """A tqdm stand-in for logs (stream not a terminal): a plain line per update.

    Prints at most every ``interval`` seconds, and always on the first and last update:
    count, elapsed time, and for a known total the remaining time at the rate so far.
    """

    disable = False

    def __init__(self, stream, *, total: int | None, desc: str, unit: str, initial: int = 0):
        self.stream, self.total, self.desc, self.unit = stream, total, desc.strip(), unit
        self.n = self._start = initial
        self.postfix = ""
        self._t0 = self._last = time.perf_counter()
        self.interval = 10.0

    def set_description_str(self, desc: str) -> None:
        self.desc = desc.strip()

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:  # noqa: ARG002 (tqdm's)
        self.postfix = text

    def refresh(self) -> None:
        return None

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.perf_counter()
        last = self.total is not None and self.n >= self.total
        if now - self._last >= self.interval or self.n == self._start + n or last:
            self._last = now
            elapsed = now - self._t0
            if self.total:
                left = elapsed / (self.n - self._start) * (self.total - self.n)
                head = (
                    f"{self.n}/{self.total} {self.unit}s, {format_duration(elapsed, approx=False)}"
                )
                head += " elapsed" + ("" if last else f", {format_duration(left)} left")
            else:
                head = f"{self.unit} {self.n}, {format_duration(elapsed, approx=False)} elapsed"
            tail = f" ({self.postfix})" if self.postfix else ""
            print(f"      {self.desc}: {head}{tail}", file=self.stream, flush=True)

    def close(self) -> None:
        return None


class Progress:
    """Progress reporter of one form-factor run.

    Parameters
    ----------
    enabled : bool
        ``False``: every method is silent (bars are disabled tqdm objects).
    n_stages : int
        Number of stages announced as ``[i/n]``.
    stream : file-like, optional
        Where to write; default ``sys.stderr`` (so ``--json`` output on stdout stays clean).
    """

    def __init__(self, enabled: bool = True, *, n_stages: int = 4, stream: IO[str] | None = None):
        self.enabled = bool(enabled)
        self.n_stages = int(n_stages)
        self.stream = stream if stream is not None else sys.stderr
        self._stage = 0
        self._live = self.enabled and bool(getattr(self.stream, "isatty", lambda: False)())

    def note(self, text: str) -> None:
        """Print one line (indented under the current stage)."""
        if self.enabled:
            print(f"      {text}", file=self.stream, flush=True)

    @contextmanager
    def stage(self, title: str, estimate_s: float | None = None) -> Iterator[None]:
        """Announce the next stage with its estimate; report its duration when it ends."""
        self._stage += 1
        if self.enabled:
            est = f" (estimate {format_duration(estimate_s)})" if estimate_s is not None else ""
            print(f"[{self._stage}/{self.n_stages}] {title}{est}", file=self.stream, flush=True)
        t0 = time.perf_counter()
        yield
        self.note(f"done in {format_duration(time.perf_counter() - t0, approx=False)}")

    def skip(self, title: str, why: str) -> None:
        """Announce a stage that does not run (for example bands read from a checkpoint)."""
        self._stage += 1
        if self.enabled:
            print(f"[{self._stage}/{self.n_stages}] {title}: {why}", file=self.stream, flush=True)

    def bar(self, *, total: int | None, desc: str, unit: str, initial: int = 0):
        """A tqdm bar on a terminal, plain lines otherwise, nothing when disabled."""
        from tqdm.auto import tqdm

        if self.enabled and not self._live:
            return _Lines(self.stream, total=total, desc=desc, unit=unit, initial=initial)
        return tqdm(
            total=total,
            initial=initial,
            desc=f"      {desc}",
            unit=unit,
            file=self.stream,
            disable=not self.enabled,
            dynamic_ncols=True,
            mininterval=0.5,
        )

    @contextmanager
    def heartbeat(self, bar) -> Iterator[None]:
        """Keep ``bar``'s clock moving while the main thread is busy in compiled code."""
        if not self._live or getattr(bar, "disable", True):
            yield
            return
        with _Heartbeat(bar):
            yield

    @contextmanager
    def scf(self, conv_tol: float) -> Iterator[Any]:
        """A monitor for one PySCF SCF; yields a function that installs it on a mean-field object.

        The live line shows the setup (pseudopotential integrals, initial guess, first
        Fock build) and then each cycle: its energy change against ``conv_tol``, the time
        per cycle and the usual number of cycles.
        """
        bar = self.bar(total=None, desc="SCF setup (integrals, initial guess)", unit="cycle")
        if isinstance(bar, _Lines):
            bar.interval = 0.0  # a line per cycle in logs
        t_start = time.perf_counter()
        state: dict[str, float | None] = {"t_last": None, "setup_s": None}

        def pre_kernel(_envs: dict) -> None:  # PySCF passes the SCF's locals
            now = time.perf_counter()
            state["t_last"] = now
            state["setup_s"] = setup = now - t_start
            if isinstance(bar, _Lines):
                self.note(f"SCF setup (integrals, initial guess) took {setup:.0f} s")
                bar.set_description_str("SCF")
            else:
                bar.set_description_str(f"      SCF cycles (setup took {setup:.0f} s)")
                bar.refresh()

        def callback(envs: dict) -> None:
            now = time.perf_counter()
            per_cycle = now - (state["t_last"] or t_start)
            state["t_last"] = now
            d_e = float(envs.get("e_tot", 0.0) - envs.get("last_hf_e", 0.0))
            bar.set_postfix_str(
                f"ΔE {d_e:+.1e} Ha (converged below {conv_tol:.0e}), "
                f"{format_duration(per_cycle, approx=False)}/cycle, "
                f"usually {TYPICAL_SCF_CYCLES[0]}–{TYPICAL_SCF_CYCLES[1]} cycles",
                refresh=False,
            )
            bar.update(1)

        def install(mf: Any) -> None:
            mf.pre_kernel = pre_kernel
            mf.callback = callback

        hybrid_bar: list[Any] = []

        def hybrid(done: int, total: int) -> None:  # the one-shot hybrid after the SCF
            if not hybrid_bar:
                hybrid_bar.append(self.bar(total=total, desc="one-shot hybrid", unit="k-point"))
            hybrid_bar[0].update(1)
            if done >= total:
                hybrid_bar[0].close()

        install.hybrid = hybrid  # type: ignore[attr-defined]

        try:
            with self.heartbeat(bar):
                yield install
        finally:
            n = bar.n
            bar.close()
            if state["setup_s"] is not None:
                self.note(f"setup {state['setup_s']:.0f} s, {n} cycles")
