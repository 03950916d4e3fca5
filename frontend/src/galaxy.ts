// Galaxy detail: the image (asinh stretch per band and composite), a slider for each
// intervenable property within its physical range, and on release the counterfactual
// image, the difference, the uncertainty map, the violation score, the confidence and
// the model version; its neighbours in the embedding when the catalogue is loaded.

import { getJSON, postJSON, type SessionInfo } from "./api";
import { loadedCatalogue, neighbours, rowOf } from "./catalogue";
import { h, fmt, errorText } from "./dom";
import { bandOrTotal, brightLevel, cubeOf, drawBand, drawComposite, drawMapped, type Cube, type TensorJSON } from "./images";

export interface Intervenable {
  name: string;
  unit: string;
  low: number;
  high: number;
  value: number;
  descendants: string[];
}

export interface GalaxyDetail {
  catalogue: string;
  id: number;
  model_version: string;
  properties: Record<string, number>;
  units: Record<string, string>;
  bands: string[];
  pixel_scale_arcsec?: number;
  image_unit?: string;
  sky_sigma?: number[];
  image: TensorJSON;
  intervenable: Intervenable[];
  neighbours?: Array<{ id: number; distance?: number }>;
}

interface GalaxyCounterfactual {
  model_version: string;
  interventions: Record<string, number>;
  image: TensorJSON;
  counterfactual: TensorJSON;
  difference: TensorJSON;
  uncertainty: TensorJSON;
  uncertainty_method?: string;
  factual_properties: Record<string, number>;
  counterfactual_properties: Record<string, number>;
  violation_score: number;
  confidence: number;
  projected?: boolean;
  latency_ms?: number;
}

declare global {
  interface Window {
    acieGalaxy: { roundTripMs: number[]; last: GalaxyCounterfactual | null };
  }
}

function panel(title: string, canvas: HTMLCanvasElement, caption: HTMLElement | string = ""): HTMLElement {
  return h("figure", { class: "panel" }, canvas, h("figcaption", {}, h("strong", {}, title), " ", caption));
}

export async function galaxyView(root: HTMLElement, session: SessionInfo, params: URLSearchParams): Promise<void> {
  const catalogue = params.get("catalogue") ?? "";
  const id = Number(params.get("id"));
  window.acieGalaxy = { roundTripMs: [], last: null };
  root.replaceChildren(h("p", { role: "status" }, `Loading galaxy ${id} of ${catalogue}…`));
  let detail: GalaxyDetail;
  try {
    detail = await getJSON<GalaxyDetail>(`/v1/explorer/galaxy?catalogue=${encodeURIComponent(catalogue)}&id=${id}`);
  } catch (e) {
    root.replaceChildren(h("p", { role: "alert" }, `Could not load galaxy ${id}: ${errorText(e)}`));
    return;
  }
  const cube = cubeOf(detail.image);
  const sigma = detail.sky_sigma && detail.sky_sigma.length ? detail.sky_sigma.reduce((a, b) => a + b, 0) / detail.sky_sigma.length : brightLevel(cube, -1) / 100;
  const bandSel = h("select", { id: "band" }, h("option", { value: "-1" }, "composite (all bands)"),
    ...detail.bands.map((b, i) => h("option", { value: String(i) }, `${b} band`)));
  const stretch = h("input", { id: "stretch", type: "range", min: 0, max: 100, value: 40, "aria-describedby": "stretch-value" });
  const stretchOut = h("output", { id: "stretch-value", for: "stretch" });
  const beta = () => sigma * 0.5 * Math.pow(60, Number(stretch.value) / 100);

  const observed = h("canvas", { class: "img", id: "img-observed" });
  const bandsRow = h("div", { class: "bands" });
  const bandCanvases = detail.bands.map(() => h("canvas", { class: "img small" }));
  detail.bands.forEach((b, i) => bandsRow.append(panel(`${b}`, bandCanvases[i])));
  const cfCanvas = h("canvas", { class: "img", id: "img-counterfactual" });
  const diffCanvas = h("canvas", { class: "img", id: "img-difference" });
  const uncCanvas = h("canvas", { class: "img", id: "img-uncertainty" });
  const diffCap = h("span");
  const uncCap = h("span");
  const results = h("div", { class: "cf-results images", id: "galaxy-cf", hidden: true },
    panel("counterfactual", cfCanvas),
    panel("difference", diffCanvas, diffCap),
    panel("uncertainty", uncCanvas, uncCap));
  const metrics = h("dl", { class: "metrics", id: "galaxy-metrics" });
  const method = h("p", { class: "hint" });
  const changes = h("table", { class: "props" });
  const msg = h("p", { role: "status", id: "galaxy-message", class: "hint" });
  let last: { cf: Cube; diff: Cube; unc: Cube } | null = null;

  function paint(): void {
    const b = Number(bandSel.value);
    const top = brightLevel(cube, b);
    stretchOut.textContent = `β = ${fmt(beta(), 2)} ${detail.image_unit ?? ""}`;
    if (b < 0) drawComposite(observed, cube, beta(), top);
    else drawBand(observed, cube, b, beta(), top);
    bandCanvases.forEach((c, i) => drawBand(c, cube, i, beta()));
    if (last) {
      if (b < 0) drawComposite(cfCanvas, last.cf, beta(), top);
      else drawBand(cfCanvas, last.cf, b, beta(), top);
      const d = drawMapped(diffCanvas, bandOrTotal(last.diff, b), cube.w, cube.h, "diverging");
      const u = drawMapped(uncCanvas, bandOrTotal(last.unc, b, true), cube.w, cube.h, "magma");
      diffCap.textContent = `±${fmt(d, 2)} ${detail.image_unit ?? ""} (${b < 0 ? "sum of bands" : detail.bands[b]})`;
      uncCap.textContent = `0 – ${fmt(u, 2)} ${detail.image_unit ?? ""} (${b < 0 ? "bands in quadrature" : detail.bands[b]})`;
    }
  }
  bandSel.addEventListener("change", paint);
  stretch.addEventListener("input", paint);

  const sliders = new Map<string, HTMLInputElement>();
  const sliderBox = h("fieldset", { class: "sliders", id: "sliders" }, h("legend", {}, "Interventions do(…)"));
  const canSubmit = session.actions.includes("submit");
  for (const p of detail.intervenable) {
    const sid = `do-${p.name}`;
    const out = h("output", { for: sid }, fmt(p.value, 4));
    const input = h("input", {
      id: sid, type: "range", min: p.low, max: p.high, step: (p.high - p.low) / 500, value: p.value,
      disabled: !canSubmit, "data-property": p.name, "aria-describedby": `${sid}-range`,
    });
    input.dataset.initial = input.value; // the catalogue value as the slider holds it
    input.addEventListener("input", () => { out.textContent = fmt(Number(input.value), 4); });
    input.addEventListener("change", () => void run());
    sliders.set(p.name, input);
    sliderBox.append(h("div", { class: "slider" },
      h("label", { for: sid }, `${p.name}${p.unit ? ` [${p.unit}]` : ""}`), input, out,
      h("span", { class: "hint", id: `${sid}-range` }, `${fmt(p.low)} – ${fmt(p.high)}`)));
  }
  const resetBtn = h("button", { type: "button", disabled: !canSubmit, onclick: () => {
    for (const s of sliders.values()) { s.value = s.dataset.initial ?? s.value; s.dispatchEvent(new Event("input")); }
    last = null; results.hidden = true; paint();
  } }, "Reset");
  sliderBox.append(resetBtn, canSubmit ? "" : h("p", { class: "hint" }, `Your role (${session.role}) cannot submit counterfactuals.`));

  async function run(): Promise<void> {
    const interventions: Record<string, number> = {};
    for (const p of detail.intervenable) {
      const s = sliders.get(p.name)!;
      if (s.value !== s.dataset.initial) interventions[p.name] = Number(s.value);
    }
    if (!Object.keys(interventions).length) { msg.textContent = "Move a slider to ask a what-if."; return; }
    const t0 = performance.now();
    msg.textContent = "Computing the counterfactual…";
    results.setAttribute("aria-busy", "true");
    try {
      const cf = await postJSON<GalaxyCounterfactual>("/v1/explorer/galaxy/counterfactual", {
        catalogue: detail.catalogue, id: detail.id, interventions,
      });
      last = { cf: cubeOf(cf.counterfactual), diff: cubeOf(cf.difference), unc: cubeOf(cf.uncertainty) };
      results.hidden = false;
      paint();
      const ms = performance.now() - t0;
      window.acieGalaxy.roundTripMs.push(ms);
      window.acieGalaxy.last = cf;
      metrics.replaceChildren(
        h("dt", {}, "violation score"), h("dd", { id: "violation" }, fmt(cf.violation_score, 3)),
        h("dt", {}, "confidence"), h("dd", { id: "confidence" }, fmt(cf.confidence, 3)),
        h("dt", {}, "projected"), h("dd", {}, cf.projected ? "yes (onto the physical set)" : "no"),
        h("dt", {}, "model version"), h("dd", { id: "model-version", title: cf.model_version }, cf.model_version.slice(0, 16)),
        h("dt", {}, "round trip"), h("dd", {}, `${ms.toFixed(0)} ms (server ${fmt(cf.latency_ms ?? NaN, 3)} ms)`));
      method.textContent = cf.uncertainty_method ? `Uncertainty: ${cf.uncertainty_method}` : "";
      changes.replaceChildren(h("tr", {}, h("th", {}, "property"), h("th", {}, "abducted"), h("th", {}, "counterfactual")),
        ...Object.keys(cf.counterfactual_properties).map((k) => h("tr", {}, h("td", {}, k),
          h("td", {}, fmt(cf.factual_properties[k] ?? NaN, 4)), h("td", {}, fmt(cf.counterfactual_properties[k], 4)))));
      msg.textContent = `Counterfactual for do(${Object.entries(interventions).map(([k, v]) => `${k} = ${fmt(v, 4)}`).join(", ")}).`;
    } catch (e) {
      msg.textContent = `Refused: ${errorText(e)}`;
    } finally {
      results.removeAttribute("aria-busy");
    }
  }

  const propTable = h("table", { class: "props", id: "galaxy-properties" },
    ...Object.entries(detail.properties).map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k),
      h("td", {}, `${fmt(v, 4)} ${detail.units[k] ?? ""}`))));
  const neigh = h("ul", { class: "neighbours", id: "neighbours" });
  const cat = loadedCatalogue();
  if (detail.neighbours?.length) {
    for (const n of detail.neighbours) neigh.append(h("li", {}, h("a", { href: `#/galaxy?catalogue=${encodeURIComponent(catalogue)}&id=${n.id}` }, `galaxy ${n.id}`), n.distance !== undefined ? ` (distance ${fmt(n.distance)})` : ""));
  } else if (cat && cat.name === catalogue && rowOf(cat, id) >= 0) {
    const rows = neighbours(cat, rowOf(cat, id), 6, cat.embeddingColumns.length ? cat.embeddingColumns : cat.props.map((p) => p.name));
    for (const r of rows) neigh.append(h("li", {}, h("a", { href: `#/galaxy?catalogue=${encodeURIComponent(catalogue)}&id=${cat.ids[r]}` }, `galaxy ${cat.ids[r]}`)));
  } else {
    neigh.append(h("li", {}, "Load the catalogue on the map to list neighbours."));
  }

  root.replaceChildren(h("div", { class: "galaxy-page" },
    h("div", { class: "row galaxy-head" },
      h("h2", {}, `Galaxy ${detail.id} · ${detail.catalogue}`),
      h("span", { class: "hint" }, `model ${detail.model_version.slice(0, 16)} · ${detail.bands.join(", ")} bands${detail.pixel_scale_arcsec ? ` · ${detail.pixel_scale_arcsec}″/pixel` : ""} · asinh stretch`),
      h("label", { for: "band" }, "Show"), bandSel, h("label", { for: "stretch" }, "Stretch"), stretch, stretchOut,
      h("a", { href: `#/map?catalogue=${encodeURIComponent(catalogue)}${loadedCatalogue()?.name === catalogue ? `&method=${loadedCatalogue()!.method}` : ""}` }, "Back to the map")),
    h("div", { class: "images" }, panel("observed", observed), results, h("div", {}, metrics, msg)),
    h("div", { class: "galaxy-layout" },
      h("section", { "aria-label": "interventions" }, sliderBox, method, changes),
      h("section", { "aria-label": "galaxy" }, bandsRow,
        h("h3", {}, "Catalogue values"), propTable,
        h("h3", {}, "Neighbours in the embedding"), neigh))));
  paint();
}
