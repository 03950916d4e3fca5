// The jobs page (the user's and shared jobs, live progress for unfinished ones) and the
// selection counterfactual's result: before/after distributions, the mean shift of each
// property with its 95% interval, and a gallery of example galaxies before and after.

import { ApiError, getJSON } from "./api";
import { h, fmt, errorText } from "./dom";
import { cubeOf, drawComposite, brightLevel, type TensorJSON } from "./images";
import { JobProgress, type JobView } from "./progress";

interface Hist { unit?: string; edges: number[]; before: number[]; after: number[] }
interface Shift { mean: number; se: number; ci95: [number, number]; n: number }
interface SelectionResult {
  catalogue: string;
  model_version: string;
  intervention: Record<string, unknown>;
  n_selected: number; n_sampled: number; n_out_of_range: number; n_refused: number; n_used: number;
  histograms: Record<string, Hist>;
  mean_shift: Record<string, Shift>;
  gallery: Array<{ id: number; before: TensorJSON; after: TensorJSON; properties_before?: Record<string, number>; properties_after?: Record<string, number> }>;
  physics_tolerance?: number;
  latency_ms?: number;
}

interface CounterfactualResult {
  counterfactual: TensorJSON;
  confidence: number[];
  violation_score: number[];
  model_version: string;
  factual_properties: Record<string, number[]>;
  counterfactual_properties: Record<string, number[]>;
}

/** The result of a counterfactual job submitted through the API (POST /v1/jobs). */
function renderCounterfactualJob(box: HTMLElement, r: CounterfactualResult): void {
  const [n, c, hgt, w] = r.counterfactual.shape;
  const all = cubeOf({ ...r.counterfactual, shape: [n * c, hgt, w] });
  const images = h("div", { class: "gallery" });
  for (let i = 0; i < n; i++) {
    const cube = { c, h: hgt, w, data: all.data.subarray(i * c * hgt * w, (i + 1) * c * hgt * w) };
    const top = brightLevel(cube, -1);
    const canvas = h("canvas", { class: "img" });
    drawComposite(canvas, cube, Math.max(top / 30, 1e-6), top);
    images.append(h("figure", { class: "panel" }, canvas, h("figcaption", {},
      `image ${i}: violation ${fmt(r.violation_score[i])}, confidence ${fmt(r.confidence[i])}`)));
  }
  const rows = Object.keys(r.counterfactual_properties).map((k) => h("tr", {}, h("td", {}, k),
    h("td", {}, r.factual_properties[k]?.map((v) => fmt(v, 4)).join(", ") ?? ""),
    h("td", {}, r.counterfactual_properties[k].map((v) => fmt(v, 4)).join(", "))));
  box.replaceChildren(h("p", {}, `Model ${r.model_version.slice(0, 16)}.`), images,
    h("table", { class: "props" }, h("tr", {}, h("th", {}, "property"), h("th", {}, "abducted"), h("th", {}, "counterfactual")), ...rows));
}

let open: JobProgress[] = [];
export function closeJobSockets(): void {
  for (const p of open) p.close();
  open = [];
}

function histogramSVG(name: string, hist: Hist): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const W = 260, H = 80;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H + 14}`);
  svg.setAttribute("class", "beforeafter");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${name}: before (grey) and after (orange) the intervention`);
  const peak = Math.max(1, ...hist.before, ...hist.after);
  const n = hist.before.length;
  const bw = W / n;
  const bars = (counts: number[], cls: string, inset: number) => {
    counts.forEach((c, i) => {
      const r = document.createElementNS(ns, "rect");
      const hh = (c / peak) * H;
      r.setAttribute("x", String(i * bw + inset));
      r.setAttribute("y", String(H - hh));
      r.setAttribute("width", String(Math.max(0.5, bw - 2 * inset)));
      r.setAttribute("height", String(hh));
      r.setAttribute("class", cls);
      svg.append(r);
    });
  };
  bars(hist.before, "before", 0.3);
  bars(hist.after, "after", bw * 0.25);
  for (const [x, v, anchor] of [[0, hist.edges[0], "start"], [W, hist.edges[hist.edges.length - 1], "end"]] as const) {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", String(x));
    t.setAttribute("y", String(H + 12));
    t.setAttribute("text-anchor", anchor);
    t.textContent = fmt(v);
    svg.append(t);
  }
  return svg;
}

function renderResult(box: HTMLElement, r: SelectionResult): void {
  const iv = Object.entries(r.intervention).filter(([k]) => k !== "property").map(([k, v]) => `${k} ${v}`).join(", ");
  const shifts = h("table", { class: "props", id: "mean-shifts" },
    h("tr", {}, h("th", {}, "property"), h("th", {}, "mean shift"), h("th", {}, "95% interval"), h("th", {}, "n")),
    ...Object.entries(r.mean_shift).map(([k, s]) => h("tr", { "data-property": k }, h("td", {}, k),
      h("td", {}, `${fmt(s.mean)} ± ${fmt(s.se, 2)}${r.histograms[k]?.unit ? ` ${r.histograms[k].unit}` : ""}`),
      h("td", {}, `[${fmt(s.ci95[0])}, ${fmt(s.ci95[1])}]`), h("td", {}, s.n))));
  const hists = h("div", { class: "ba-grid" }, ...Object.entries(r.histograms).map(([k, hist]) =>
    h("figure", { class: "ba" }, histogramSVG(k, hist), h("figcaption", {}, `${k}${hist.unit ? ` [${hist.unit}]` : ""}`))));
  const gallery = h("div", { class: "gallery", id: "gallery" });
  for (const g of r.gallery) {
    const before = cubeOf(g.before);
    const after = cubeOf(g.after);
    const top = brightLevel(before, -1);
    const beta = Math.max(top / 30, 1e-6);
    const cb = h("canvas", { class: "img small" });
    const ca = h("canvas", { class: "img small" });
    drawComposite(cb, before, beta, top);
    drawComposite(ca, after, beta, top);
    gallery.append(h("figure", { class: "pair" }, cb, ca,
      h("figcaption", {}, h("a", { href: `#/galaxy?catalogue=${encodeURIComponent(r.catalogue)}&id=${g.id}` }, `galaxy ${g.id}`), " before → after")));
  }
  box.replaceChildren(
    h("p", {}, `do(${String(r.intervention.property)} ${iv}) on ${r.n_selected.toLocaleString()} selected galaxies of ${r.catalogue}: `,
      `${r.n_sampled} sampled, ${r.n_used} used, ${r.n_out_of_range} out of range, ${r.n_refused} refused by the physics check. `,
      `Model ${r.model_version.slice(0, 12)}${r.latency_ms ? `, ${(r.latency_ms / 1000).toFixed(1)} s` : ""}.`),
    h("h3", {}, "Mean shift (after − before)"), shifts,
    h("h3", {}, "Distributions before and after"), hists,
    h("h3", {}, "Examples"), gallery);
}

export async function selectionView(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const jobId = params.get("job") ?? "";
  const resultBox = h("div", { id: "selection-result", "aria-live": "polite" });
  const tracker = new JobProgress(jobId, async (view) => {
    if (view.state !== "COMPLETE") {
      resultBox.textContent = view.error ? `The job failed: ${view.error.code}: ${view.error.message}` : `The job ended ${view.state}.`;
      return;
    }
    try {
      const out = await getJSON<{ job: JobView; result: SelectionResult | null }>(`/v1/explorer/selection/${encodeURIComponent(jobId)}`);
      if (out.result) renderResult(resultBox, out.result);
      resultBox.dataset.state = "complete";
    } catch (e) {
      if (e instanceof ApiError && e.status < 500 && view.result) {
        renderCounterfactualJob(resultBox, view.result as CounterfactualResult); // an API job
        resultBox.dataset.state = "complete";
      } else {
        resultBox.textContent = `Could not read the result: ${errorText(e)}`;
      }
    }
  });
  open.push(tracker);
  root.replaceChildren(h("section", { class: "selection-view" },
    h("h2", {}, `Job ${jobId}`), tracker.el, resultBox,
    h("p", {}, h("a", { href: "#/jobs" }, "All jobs"), " · ", h("a", { href: "#/map" }, "Map"))));
}

export async function jobsView(root: HTMLElement): Promise<void> {
  const table = h("table", { class: "jobs", id: "jobs-table" });
  const msg = h("p", { role: "status", class: "hint" });
  const refresh = h("button", { type: "button", onclick: () => void load() }, "Refresh");
  root.replaceChildren(h("section", {}, h("h2", {}, "Jobs (yours and shared)"), refresh, msg, table));
  async function load(): Promise<void> {
    closeJobSockets();
    try {
      const { jobs } = await getJSON<{ jobs: JobView[] }>("/v1/jobs?limit=50");
      table.replaceChildren(h("tr", {}, ...["job", "owner", "shared", "created", "progress", ""].map((t) => h("th", { scope: "col" }, t))));
      for (const j of jobs) {
        const live = j.state === "COMPLETE" || j.state === "FAILED" ? null : new JobProgress(j.job_id, () => undefined);
        if (live) open.push(live);
        table.append(h("tr", { "data-job": j.job_id, "data-state": j.state },
          h("td", {}, j.job_id.slice(0, 8)), h("td", {}, j.owner ?? ""), h("td", {}, j.shared ? "yes" : "no"),
          h("td", {}, j.created_at?.replace("T", " ").slice(0, 19) ?? ""),
          h("td", {}, live ? live.el : j.error ? `${j.state}: ${j.error.code}` : j.state),
          h("td", {}, h("a", { href: `#/selection?job=${encodeURIComponent(j.job_id)}` }, "view"))));
      }
      msg.textContent = jobs.length ? "" : "No jobs yet.";
    } catch (e) {
      msg.textContent = `Could not list jobs: ${errorText(e)}`;
    }
  }
  await load();
}
