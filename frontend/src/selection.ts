// Linked brushing, as arrays: each property is binned once (a byte per point), so the
// histograms of a selection are one counting pass over the selected points; a brushed
// region (rectangle or lasso, in data coordinates) and the histogram filters combine
// into the per-point state the renderer draws (0 hidden, 1 shown, 2 selected).

export const NBINS = 40;

export interface Property {
  name: string;
  values: Float32Array;
  min: number;
  max: number;
  bins: Uint8Array; // bin index of each point, 255 for a non-finite value
  all: Uint32Array; // histogram of the whole catalogue
}

export type Region =
  | { kind: "rect"; x0: number; y0: number; x1: number; y1: number }
  | { kind: "lasso"; points: Array<[number, number]> };

export function binProperty(name: string, values: Float32Array): Property {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!(max > min)) max = min + 1;
  const bins = new Uint8Array(values.length);
  const all = new Uint32Array(NBINS);
  const k = NBINS / (max - min);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      bins[i] = 255;
      continue;
    }
    const b = Math.min(NBINS - 1, Math.floor((v - min) * k));
    bins[i] = b;
    all[b]++;
  }
  return { name, values, min, max, bins, all };
}

/** The value range [lo, hi) of bins b0..b1 (inclusive) of a property. */
export function binRange(p: Property, b0: number, b1: number): [number, number] {
  const w = (p.max - p.min) / NBINS;
  return [p.min + Math.min(b0, b1) * w, p.min + (Math.max(b0, b1) + 1) * w];
}

function insidePolygon(x: number, y: number, poly: Array<[number, number]>): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export class Brushing {
  readonly state: Uint8Array;
  readonly filters = new Map<string, [number, number]>(); // property -> bin range
  region: Region | null = null;
  selectedCount = 0;
  visibleCount = 0;

  constructor(
    readonly x: Float32Array,
    readonly y: Float32Array,
    readonly props: Property[],
  ) {
    this.state = new Uint8Array(x.length).fill(1);
    this.visibleCount = x.length;
  }

  /** Recompute the state of every point from the filters and the region. */
  update(): void {
    const n = this.x.length;
    const { x, y, state } = this;
    const active = this.props
      .filter((p) => this.filters.has(p.name))
      .map((p) => ({ bins: p.bins, r: this.filters.get(p.name)! }));
    const r = this.region;
    let bx0 = -Infinity;
    let bx1 = Infinity;
    let by0 = -Infinity;
    let by1 = Infinity;
    if (r && r.kind === "rect") {
      [bx0, bx1] = [Math.min(r.x0, r.x1), Math.max(r.x0, r.x1)];
      [by0, by1] = [Math.min(r.y0, r.y1), Math.max(r.y0, r.y1)];
    } else if (r && r.kind === "lasso") {
      bx0 = Math.min(...r.points.map((p) => p[0]));
      bx1 = Math.max(...r.points.map((p) => p[0]));
      by0 = Math.min(...r.points.map((p) => p[1]));
      by1 = Math.max(...r.points.map((p) => p[1]));
    }
    let selected = 0;
    let visible = 0;
    for (let i = 0; i < n; i++) {
      let show = 1;
      for (let a = 0; a < active.length; a++) {
        const b = active[a].bins[i];
        if (b < active[a].r[0] || b > active[a].r[1]) {
          show = 0;
          break;
        }
      }
      if (!show) {
        state[i] = 0;
        continue;
      }
      visible++;
      let s = 1;
      if (r) {
        const xi = x[i];
        const yi = y[i];
        if (xi >= bx0 && xi <= bx1 && yi >= by0 && yi <= by1) {
          if (r.kind === "rect" || insidePolygon(xi, yi, r.points)) s = 2;
        }
      }
      if (s === 2) selected++;
      state[i] = s;
    }
    this.selectedCount = selected;
    this.visibleCount = visible;
  }

  /** Histograms of every property over the selection (or the shown points if none). */
  histograms(): Map<string, Uint32Array> {
    const want = this.region ? 2 : 1;
    const out = new Map<string, Uint32Array>();
    const { state } = this;
    for (const p of this.props) {
      const h = new Uint32Array(NBINS);
      const bins = p.bins;
      for (let i = 0; i < state.length; i++) {
        if (state[i] === want) {
          const b = bins[i];
          if (b !== 255) h[b]++;
        }
      }
      out.set(p.name, h);
    }
    return out;
  }

  /** Indices of the selected points (or the shown ones when nothing is brushed). */
  selectedIndices(limit = Infinity): Uint32Array {
    const want = this.region ? 2 : 1;
    const out: number[] = [];
    for (let i = 0; i < this.state.length && out.length < limit; i++) {
      if (this.state[i] === want) out.push(i);
    }
    return Uint32Array.from(out);
  }
}

/** A uniform grid over the points for hover look-ups: nearest point within a radius. */
export class PointGrid {
  private cellStart: Uint32Array;
  private order: Uint32Array;
  private x0: number;
  private y0: number;
  private cw: number;
  private ch: number;

  constructor(
    readonly x: Float32Array,
    readonly y: Float32Array,
    readonly g = 256,
  ) {
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (let i = 0; i < x.length; i++) {
      if (x[i] < x0) x0 = x[i];
      if (x[i] > x1) x1 = x[i];
      if (y[i] < y0) y0 = y[i];
      if (y[i] > y1) y1 = y[i];
    }
    this.x0 = x0;
    this.y0 = y0;
    this.cw = (x1 - x0 || 1) / g;
    this.ch = (y1 - y0 || 1) / g;
    const cell = new Uint32Array(x.length);
    const counts = new Uint32Array(g * g + 1);
    for (let i = 0; i < x.length; i++) {
      const c = this.cellOf(x[i], y[i]);
      cell[i] = c;
      counts[c + 1]++;
    }
    for (let c = 0; c < g * g; c++) counts[c + 1] += counts[c];
    this.cellStart = counts.slice();
    this.order = new Uint32Array(x.length);
    for (let i = 0; i < x.length; i++) this.order[counts[cell[i]]++] = i;
  }

  private cellOf(x: number, y: number): number {
    const cx = Math.max(0, Math.min(this.g - 1, Math.floor((x - this.x0) / this.cw)));
    const cy = Math.max(0, Math.min(this.g - 1, Math.floor((y - this.y0) / this.ch)));
    return cy * this.g + cx;
  }

  /** The nearest point to (x, y) within r (data units) whose state is not 0, or -1. */
  nearest(x: number, y: number, r: number, state: Uint8Array): number {
    const rx = Math.ceil(r / this.cw);
    const ry = Math.ceil(r / this.ch);
    const c = this.cellOf(x, y);
    const cx = c % this.g;
    const cy = Math.floor(c / this.g);
    let best = -1;
    let bestD = r * r;
    for (let j = Math.max(0, cy - ry); j <= Math.min(this.g - 1, cy + ry); j++) {
      for (let i = Math.max(0, cx - rx); i <= Math.min(this.g - 1, cx + rx); i++) {
        const cc = j * this.g + i;
        for (let k = this.cellStart[cc]; k < this.cellStart[cc + 1]; k++) {
          const p = this.order[k];
          if (state[p] === 0) continue;
          const dx = this.x[p] - x;
          const dy = this.y[p] - y;
          const d = dx * dx + dy * dy;
          if (d <= bestD) {
            bestD = d;
            best = p;
          }
        }
      }
    }
    return best;
  }
}
