// The latent map: the catalogue's 2-D projection drawn with WebGL, coloured and sized by
// properties, with pan/zoom, hover tooltips, rectangle and lasso brushes, and the linked
// histograms; the selection feeds the selection counterfactual form.

import { h, fmt, errorText } from "./dom";
import { type SessionInfo } from "./api";
import { listCatalogues, loadCatalogue, type Catalogue } from "./catalogue";
import { HistogramPanel } from "./histograms";
import { ScatterRenderer } from "./scatter";
import { Brushing, PointGrid, type Region } from "./selection";
import { selectionForm } from "./selectionform";

type Mode = "pan" | "rect" | "lasso";

/** Numbers the benchmark and the browser tests read (window.acieExplorer). */
export interface ExplorerProbe {
  ready: boolean;
  points: number;
  firstRenderMs: number | null;
  loadMs: number | null;
  bytesPerPoint: number | null;
  brushMs: number[];
  frameMs: number[]; // only with measureFrames (or ?measure in the hash): each frame then waits for the GPU
  measureFrames?: boolean;
  selected: number;
  brushRect?: (x0: number, y0: number, x1: number, y1: number) => number;
  panBy?: (dx: number, dy: number) => void;
  zoomBy?: (factor: number) => void;
  bounds?: () => [number, number, number, number];
  pixelOf?: (row: number) => [number, number];
  view?: () => { cx: number; cy: number; zoom: number };
}

declare global {
  interface Window {
    acieExplorer: ExplorerProbe;
  }
}

function normalised(values: Float32Array, lo: number, hi: number): Float32Array {
  const out = new Float32Array(values.length);
  const k = 1 / (hi - lo || 1);
  for (let i = 0; i < values.length; i++) out[i] = (values[i] - lo) * k;
  return out;
}

export async function mapView(root: HTMLElement, session: SessionInfo, params: URLSearchParams): Promise<void> {
  const probe: ExplorerProbe = {
    ready: false, points: 0, firstRenderMs: null, loadMs: null, bytesPerPoint: null,
    brushMs: [], frameMs: [], selected: 0,
  };
  window.acieExplorer = probe;
  const status = h("p", { class: "status", role: "status", id: "map-status" }, "Loading the catalogue list…");
  const catInput = h("input", {
    id: "catalogue", list: "catalogue-list", value: params.get("catalogue") ?? "cluster_sim_a",
    "aria-describedby": "catalogue-help", size: 14,
  });
  const dataList = h("datalist", { id: "catalogue-list" });
  const methodSel = h("select", { id: "method" }, h("option", { value: "auto" }, "auto"));
  const loadBtn = h("button", { type: "submit" }, "Load");
  const loadForm = h("form", { class: "row", "aria-label": "catalogue" },
    h("label", { for: "catalogue" }, "Catalogue"), catInput, dataList,
    h("label", { for: "method" }, "Projection"), methodSel, loadBtn,
  );
  const help = h("p", { id: "catalogue-help", class: "hint" });
  const canvas = h("canvas", {
    id: "map", class: "map-canvas", tabIndex: 0,
    "aria-label": "latent map: arrows pan, + and - zoom, 0 resets, P pan, R rectangle, L lasso, Escape clears the selection",
  });
  const overlay = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  overlay.setAttribute("class", "map-overlay");
  overlay.setAttribute("aria-hidden", "true");
  const tooltip = h("div", { class: "tooltip", role: "tooltip", id: "tooltip", hidden: true });
  const mapBox = h("div", { class: "map-box", id: "map-box" }, canvas, overlay, tooltip);
  const colorSel = h("select", { id: "color-by" });
  const sizeSel = h("select", { id: "size-by" }, h("option", { value: "" }, "(uniform)"));
  const modeButtons = new Map<Mode, HTMLButtonElement>();
  const modes: Array<[Mode, string, string]> = [["pan", "Pan", "P"], ["rect", "Rectangle", "R"], ["lasso", "Lasso", "L"]];
  const modeGroup = h("div", { class: "row", role: "group", "aria-label": "pointer mode" });
  for (const [m, label, key] of modes) {
    const b = h("button", { type: "button", "aria-pressed": "false", "data-mode": m, title: `${label} (${key})`, onclick: () => setMode(m) }, label);
    modeButtons.set(m, b);
    modeGroup.append(b);
  }
  const clearBtn = h("button", { type: "button", id: "clear-selection", onclick: () => clearAll() }, "Clear selection and filters");
  const gotoInput = h("input", { id: "goto-id", type: "number", min: 0, size: 8 });
  const gotoForm = h("form", { class: "row", onsubmit: (e: Event) => { e.preventDefault(); if (gotoInput.value) openGalaxy(Number(gotoInput.value)); } },
    h("label", { for: "goto-id" }, "Galaxy id"), gotoInput, h("button", { type: "submit" }, "Open"));
  const selInfo = h("p", { class: "sel-info", id: "selection-info", "aria-live": "polite" });
  const cfBox = h("div", { id: "selection-cf" });
  const side = h("aside", { class: "controls", "aria-label": "map controls" },
    loadForm, help,
    h("div", { class: "row" }, h("label", { for: "color-by" }, "Colour by"), colorSel),
    h("div", { class: "row" }, h("label", { for: "size-by" }, "Size by"), sizeSel),
    modeGroup, clearBtn, selInfo, gotoForm, cfBox, status);
  const histBox = h("div", { class: "hist-box" });
  root.replaceChildren(h("div", { class: "map-layout" }, side, mapBox, histBox));

  let mode: Mode = "rect";
  let cat: Catalogue | null = null;
  let renderer: ScatterRenderer | null = null;
  let brushing: Brushing | null = null;
  let grid: PointGrid | null = null;
  let panel: HistogramPanel | null = null;

  function setMode(m: Mode): void {
    mode = m;
    for (const [k, b] of modeButtons) b.setAttribute("aria-pressed", String(k === m));
    canvas.dataset.mode = m;
  }
  setMode("rect");

  try {
    const list = await listCatalogues();
    for (const c of list.catalogues) dataList.append(h("option", { value: c }));
    for (const n of ["sim_10000", "sim_100000", "sim_1000000"]) dataList.append(h("option", { value: n }));
    methodSel.replaceChildren(...list.methods.map((m) => h("option", { value: m }, m)));
    const wanted = params.get("method");
    if (wanted && list.methods.includes(wanted)) methodSel.value = wanted;
    help.textContent = `A named sample or ${list.simulated}. Model ${list.model_version.slice(0, 12)}.`;
    status.textContent = "Choose a catalogue and press Load.";
  } catch (e) {
    status.textContent = `Could not list catalogues: ${errorText(e)}`;
  }

  function openGalaxy(id: number): void {
    if (cat) location.hash = `#/galaxy?catalogue=${encodeURIComponent(cat.name)}&id=${id}`;
  }

  function recolor(): void {
    if (!cat || !renderer) return;
    const p = cat.props.find((q) => q.name === colorSel.value) ?? cat.props[0];
    renderer.setColor(normalised(p.values, p.min, p.max));
    const s = cat.props.find((q) => q.name === sizeSel.value);
    const base = Math.max(1, Math.min(3, 3 * Math.sqrt(100_000 / cat.n))); // denser maps, smaller points
    renderer.sizeRange = s ? [base * 0.5, base * 2.3] : [base, base];
    renderer.setSize(s ? normalised(s.values, s.min, s.max) : new Float32Array(cat.n));
  }
  colorSel.addEventListener("change", recolor);
  sizeSel.addEventListener("change", recolor);

  function applyBrush(): number {
    if (!brushing || !renderer || !panel || !cat) return 0;
    const t0 = performance.now();
    brushing.update();
    const hists = brushing.histograms();
    panel.update(hists);
    renderer.setState(brushing.state, brushing.region !== null);
    const ms = performance.now() - t0;
    probe.brushMs.push(ms);
    probe.selected = brushing.region ? brushing.selectedCount : 0;
    const what = brushing.region ? `${brushing.selectedCount.toLocaleString()} selected` : "no brushed region";
    selInfo.textContent = `${what} of ${brushing.visibleCount.toLocaleString()} shown (${cat.n.toLocaleString()} in all) · ${ms.toFixed(1)} ms`;
    selInfo.dataset.selected = String(probe.selected);
    selInfo.dataset.visible = String(brushing.visibleCount);
    return ms;
  }

  function clearAll(): void {
    if (!brushing) return;
    brushing.region = null;
    brushing.filters.clear();
    panel?.clearFilters();
    overlay.replaceChildren();
    applyBrush();
  }

  async function load(): Promise<void> {
    const name = catInput.value.trim();
    status.textContent = `Loading ${name}… (a first UMAP of a large catalogue takes minutes on the server)`;
    loadBtn.disabled = true;
    mapBox.dataset.state = "loading";
    try {
      cat = await loadCatalogue(name, methodSel.value);
      history.replaceState(null, "", `#/map?catalogue=${encodeURIComponent(name)}&method=${encodeURIComponent(methodSel.value)}`);
      colorSel.replaceChildren(...cat.props.map((p) => h("option", { value: p.name }, p.name)));
      sizeSel.replaceChildren(h("option", { value: "" }, "(uniform)"), ...cat.props.map((p) => h("option", { value: p.name }, p.name)));
      const prefer = cat.props.find((p) => p.name === "log_stellar_mass") ?? cat.props[0];
      colorSel.value = prefer.name;
      renderer ??= new ScatterRenderer(canvas);
      renderer.setPoints(cat.x, cat.y);
      brushing = new Brushing(cat.x, cat.y, cat.props);
      grid = new PointGrid(cat.x, cat.y);
      panel = new HistogramPanel(cat.props, {
        units: cat.units,
        onFilter: (name, range) => {
          if (!brushing) return;
          if (range) brushing.filters.set(name, range);
          else brushing.filters.delete(name);
          applyBrush();
        },
      });
      histBox.replaceChildren(h("h2", {}, "Selection vs catalogue"), panel.el);
      fit();
      recolor();
      applyBrush();
      renderer.drawNow();
      renderer.gl.readPixels(0, 0, 1, 1, renderer.gl.RGBA, renderer.gl.UNSIGNED_BYTE, new Uint8Array(4)); // drawn, not queued
      const bytesPerPoint = cat.payloadBytes / cat.n;
      probe.points = cat.n;
      probe.loadMs = cat.loadMs;
      probe.bytesPerPoint = bytesPerPoint;
      probe.firstRenderMs ??= performance.now();
      if (probe.measureFrames || params.has("measure")) renderer.onFrame = (ms) => { probe.frameMs.push(ms); };
      status.textContent = `${cat.n.toLocaleString()} galaxies (${cat.method}), ${(cat.payloadBytes / 1e6).toFixed(2)} MB map, ${bytesPerPoint.toFixed(2)} bytes/point, loaded in ${cat.loadMs.toFixed(0)} ms.`;
      mapBox.dataset.state = "ready";
      mapBox.dataset.points = String(cat.n);
      probe.ready = true;
      cfBox.replaceChildren();
      if (session.actions.includes("submit")) {
        cfBox.append(selectionForm(cat, () => brushing?.selectedIndices() ?? new Uint32Array()));
      } else {
        cfBox.append(h("p", { class: "hint" }, `Your role (${session.role}) can explore but not submit counterfactuals.`));
      }
    } catch (e) {
      status.textContent = `Could not load ${name}: ${errorText(e)}`;
      mapBox.dataset.state = "error";
    } finally {
      loadBtn.disabled = false;
    }
  }
  loadForm.addEventListener("submit", (e) => { e.preventDefault(); void load(); });

  function fit(): void {
    if (!cat || !renderer) return;
    const b = bounds();
    const w = canvas.clientWidth || 800;
    const hgt = canvas.clientHeight || 600;
    renderer.view = {
      cx: (b[0] + b[1]) / 2, cy: (b[2] + b[3]) / 2,
      zoom: 0.92 * Math.min(w / (b[1] - b[0] || 1), hgt / (b[3] - b[2] || 1)),
    };
    renderer.draw();
  }
  function bounds(): [number, number, number, number] {
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    if (cat) for (let i = 0; i < cat.n; i++) {
      const x = cat.x[i], y = cat.y[i];
      if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
    }
    return [x0, x1, y0, y1];
  }

  // ---- pointer and keyboard -------------------------------------------------------
  let drag: { kind: Mode; sx: number; sy: number; cx: number; cy: number; pts: Array<[number, number]> } | null = null;
  let pending = false;
  function schedule(fn: () => void): void {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; fn(); });
  }
  function drawRegion(r: Region | null): void {
    overlay.replaceChildren();
    if (!r || !renderer) return;
    const ns = "http://www.w3.org/2000/svg";
    if (r.kind === "rect") {
      const [ax, ay] = renderer.toPixels(r.x0, r.y0);
      const [bx, by] = renderer.toPixels(r.x1, r.y1);
      const el = document.createElementNS(ns, "rect");
      el.setAttribute("x", String(Math.min(ax, bx)));
      el.setAttribute("y", String(Math.min(ay, by)));
      el.setAttribute("width", String(Math.abs(bx - ax)));
      el.setAttribute("height", String(Math.abs(by - ay)));
      overlay.append(el);
    } else {
      const el = document.createElementNS(ns, "polygon");
      el.setAttribute("points", r.points.map((p) => renderer!.toPixels(p[0], p[1]).join(",")).join(" "));
      overlay.append(el);
    }
  }
  canvas.addEventListener("pointerdown", (ev) => {
    if (!renderer || !brushing) return;
    canvas.focus();
    canvas.setPointerCapture(ev.pointerId);
    const kind: Mode = ev.button === 1 || ev.altKey ? "pan" : mode;
    drag = { kind, sx: ev.offsetX, sy: ev.offsetY, cx: renderer.view.cx, cy: renderer.view.cy, pts: [renderer.toData(ev.offsetX, ev.offsetY)] };
    tooltip.hidden = true;
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (!renderer || !brushing) return;
    if (!drag) { schedule(() => hover(ev.offsetX, ev.offsetY)); return; }
    const d = drag;
    if (d.kind === "pan") {
      renderer.view.cx = d.cx - (ev.offsetX - d.sx) / renderer.view.zoom;
      renderer.view.cy = d.cy + (ev.offsetY - d.sy) / renderer.view.zoom;
      renderer.draw();
      drawRegion(brushing.region);
      return;
    }
    const p = renderer.toData(ev.offsetX, ev.offsetY);
    if (d.kind === "rect") {
      brushing.region = { kind: "rect", x0: d.pts[0][0], y0: d.pts[0][1], x1: p[0], y1: p[1] };
    } else {
      d.pts.push(p);
      if (d.pts.length < 3) return;
      brushing.region = { kind: "lasso", points: d.pts.slice() };
    }
    drawRegion(brushing.region);
    schedule(applyBrush);
  });
  canvas.addEventListener("pointerup", (ev) => {
    if (!drag || !brushing) return;
    const moved = Math.hypot(ev.offsetX - drag.sx, ev.offsetY - drag.sy);
    const kind = drag.kind;
    drag = null;
    if (moved < 3 && kind !== "pan") {
      const hit = nearestAt(ev.offsetX, ev.offsetY);
      if (hit >= 0 && cat) openGalaxy(cat.ids[hit]);
      return;
    }
    if (kind !== "pan") applyBrush();
  });
  canvas.addEventListener("wheel", (ev) => {
    if (!renderer) return;
    ev.preventDefault();
    zoomAt(Math.exp(-ev.deltaY * 0.0015), ev.offsetX, ev.offsetY);
  }, { passive: false });
  canvas.addEventListener("pointerleave", () => { tooltip.hidden = true; });
  canvas.addEventListener("keydown", (ev) => {
    if (!renderer) return;
    const step = 40 / renderer.view.zoom;
    const keys: Record<string, () => void> = {
      ArrowLeft: () => { renderer!.view.cx -= step; },
      ArrowRight: () => { renderer!.view.cx += step; },
      ArrowUp: () => { renderer!.view.cy += step; },
      ArrowDown: () => { renderer!.view.cy -= step; },
      "+": () => zoomAt(1.25, canvas.clientWidth / 2, canvas.clientHeight / 2),
      "=": () => zoomAt(1.25, canvas.clientWidth / 2, canvas.clientHeight / 2),
      "-": () => zoomAt(0.8, canvas.clientWidth / 2, canvas.clientHeight / 2),
      "0": () => fit(),
      p: () => setMode("pan"), r: () => setMode("rect"), l: () => setMode("lasso"),
      Escape: () => clearAll(),
    };
    const fn = keys[ev.key];
    if (!fn) return;
    ev.preventDefault();
    fn();
    renderer.draw();
    if (brushing) drawRegion(brushing.region);
  });

  function zoomAt(f: number, px: number, py: number): void {
    if (!renderer) return;
    const [dx, dy] = renderer.toData(px, py);
    renderer.view.zoom *= f;
    const [nx, ny] = renderer.toData(px, py);
    renderer.view.cx += dx - nx;
    renderer.view.cy += dy - ny;
    renderer.draw();
    if (brushing) drawRegion(brushing.region);
  }
  function nearestAt(px: number, py: number): number {
    if (!renderer || !grid || !brushing) return -1;
    const [x, y] = renderer.toData(px, py);
    return grid.nearest(x, y, 6 / renderer.view.zoom, brushing.state);
  }
  function hover(px: number, py: number): void {
    if (!cat) return;
    const i = nearestAt(px, py);
    if (i < 0) { tooltip.hidden = true; return; }
    const lines = [h("strong", {}, `galaxy ${cat.ids[i]}`)];
    for (const p of cat.props) {
      const u = cat.units[p.name];
      lines.push(h("span", {}, `${p.name}: ${fmt(p.values[i], 4)}${u ? ` ${u}` : ""}`));
    }
    lines.push(h("em", {}, "click to open"));
    tooltip.replaceChildren(...lines);
    tooltip.style.left = `${Math.min(px + 14, canvas.clientWidth - 240)}px`;
    tooltip.style.top = `${Math.min(py + 14, canvas.clientHeight - 260)}px`;
    tooltip.hidden = false;
  }

  // ---- hooks for the benchmark and the browser tests ------------------------------
  probe.brushRect = (x0, y0, x1, y1) => {
    if (!brushing) return 0;
    brushing.region = { kind: "rect", x0, y0, x1, y1 };
    drawRegion(brushing.region);
    return applyBrush();
  };
  probe.panBy = (dx, dy) => {
    if (!renderer) return;
    renderer.view.cx += dx / renderer.view.zoom;
    renderer.view.cy += dy / renderer.view.zoom;
    renderer.drawNow();
  };
  probe.zoomBy = (f) => { zoomAt(f, canvas.clientWidth / 2, canvas.clientHeight / 2); renderer?.drawNow(); };
  probe.bounds = bounds;
  probe.view = () => ({ ...(renderer?.view ?? { cx: NaN, cy: NaN, zoom: NaN }) });
  probe.pixelOf = (row) => (renderer && cat ? renderer.toPixels(cat.x[row], cat.y[row]) : [NaN, NaN]);

  if (params.get("catalogue")) await load();
}
