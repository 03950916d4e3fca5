// The histogram panel: for every property, the whole catalogue (grey) against the
// current selection (colour), each normalised to its own total so shapes compare.
// Dragging across bins, or the keyboard (arrows move the filter, Shift+arrows widen it,
// Escape clears), filters the map to that value range.

import { h, fmt } from "./dom";
import { NBINS, binRange, type Property } from "./selection";

export interface HistogramPanelOptions {
  onFilter: (name: string, range: [number, number] | null) => void;
  units: Record<string, string>;
}

interface Row {
  prop: Property;
  canvas: HTMLCanvasElement;
  label: HTMLElement;
  box: HTMLElement;
  sel: Uint32Array | null;
  range: [number, number] | null;
}

const W = 232;
const H = 54;

export class HistogramPanel {
  readonly el: HTMLElement;
  private rows: Row[] = [];

  constructor(
    props: Property[],
    readonly opts: HistogramPanelOptions,
  ) {
    this.el = h("section", { class: "histograms", "aria-label": "property histograms" });
    for (const prop of props) {
      const row = this.row(prop);
      this.rows.push(row);
      this.el.append(row.box);
    }
  }

  private row(prop: Property): Row {
    const canvas = h("canvas", {
      class: "hist",
      width: W,
      height: H,
      tabIndex: 0,
      role: "slider",
      "aria-label": `${prop.name} histogram: arrows filter the map, Escape clears`,
      "data-name": prop.name,
    });
    const label = h("div", { class: "hist-label" });
    const box = h("div", { class: "hist-row", "data-property": prop.name }, label, canvas);
    const row: Row = { prop, canvas, label, box, sel: null, range: null };
    let drag: number | null = null;
    const binAt = (ev: PointerEvent): number =>
      Math.max(0, Math.min(NBINS - 1, Math.floor((ev.offsetX / canvas.clientWidth) * NBINS)));
    canvas.addEventListener("pointerdown", (ev) => {
      drag = binAt(ev);
      canvas.setPointerCapture(ev.pointerId);
      this.setRange(row, [drag, drag], false);
    });
    canvas.addEventListener("pointermove", (ev) => {
      if (drag !== null) this.setRange(row, [drag, binAt(ev)], false);
    });
    canvas.addEventListener("pointerup", () => {
      drag = null;
      this.setRange(row, row.range, true);
    });
    canvas.addEventListener("keydown", (ev) => {
      const r = row.range;
      const last = NBINS - 1;
      let next: [number, number] | null;
      if (ev.key === "Escape" || ev.key === "Delete") next = null;
      else if (ev.key !== "ArrowLeft" && ev.key !== "ArrowRight") return;
      else if (!r) next = ev.shiftKey && ev.key === "ArrowRight" ? [0, 1] : [0, 0];
      else if (ev.shiftKey) next = ev.key === "ArrowLeft" ? [r[0], Math.max(r[0], r[1] - 1)] : [r[0], Math.min(last, r[1] + 1)];
      else if (ev.key === "ArrowLeft") next = r[0] > 0 ? [r[0] - 1, r[1] - 1] : r;
      else next = r[1] < last ? [r[0] + 1, r[1] + 1] : r;
      ev.preventDefault();
      this.setRange(row, next, true);
    });
    this.paint(row);
    return row;
  }

  private setRange(row: Row, bins: [number, number] | null, commit: boolean): void {
    row.range = bins ? [Math.min(...bins), Math.max(...bins)] : null;
    this.paint(row);
    if (commit) this.opts.onFilter(row.prop.name, row.range);
  }

  /** Clear every histogram filter (without notifying). */
  clearFilters(): void {
    for (const r of this.rows) {
      r.range = null;
      this.paint(r);
    }
  }

  update(selection: Map<string, Uint32Array> | null): void {
    for (const r of this.rows) {
      r.sel = selection?.get(r.prop.name) ?? null;
      this.paint(r);
    }
  }

  private paint(row: Row): void {
    const { prop, canvas, sel, range } = row;
    const ctx = canvas.getContext("2d")!;
    ctx.clearRect(0, 0, W, H);
    const total = (a: Uint32Array) => a.reduce((s, v) => s + v, 0) || 1;
    const nAll = total(prop.all);
    const nSel = sel ? total(sel) : 0;
    let peak = 0;
    for (let b = 0; b < NBINS; b++) {
      peak = Math.max(peak, prop.all[b] / nAll, sel && nSel ? sel[b] / nSel : 0);
    }
    const bw = W / NBINS;
    if (range) {
      ctx.fillStyle = "rgba(255, 209, 102, 0.18)";
      ctx.fillRect(range[0] * bw, 0, (range[1] - range[0] + 1) * bw, H);
    }
    for (let b = 0; b < NBINS; b++) {
      const ha = ((prop.all[b] / nAll) * (H - 4)) / (peak || 1);
      ctx.fillStyle = "#5b6270";
      ctx.fillRect(b * bw + 0.5, H - ha, bw - 1, ha);
      if (sel && nSel) {
        const hs = ((sel[b] / nSel) * (H - 4)) / (peak || 1);
        ctx.fillStyle = "rgba(94, 201, 255, 0.75)";
        ctx.fillRect(b * bw + 2, H - hs, bw - 4, hs);
      }
    }
    const unit = this.opts.units[prop.name];
    let text = `${prop.name}${unit ? ` [${unit}]` : ""}  ${fmt(prop.min)} … ${fmt(prop.max)}`;
    if (range) {
      const [lo, hi] = binRange(prop, range[0], range[1]);
      text += `  · filter ${fmt(lo)} – ${fmt(hi)}`;
      canvas.setAttribute("aria-valuetext", `filter from ${fmt(lo)} to ${fmt(hi)}`);
    } else {
      canvas.setAttribute("aria-valuetext", "no filter");
    }
    row.label.textContent = text;
    row.box.dataset.selected = String(nSel);
    row.box.dataset.counts = sel ? Array.from(sel).join(",") : "";
  }
}
