// The selection counterfactual form: one intervention (e.g. stellar mass x 2) applied
// to the brushed population as one job (POST /v1/explorer/selection/counterfactual,
// the selection sent as base64 of its uint32 ids).

import { getJSON, postJSON } from "./api";
import { type Catalogue } from "./catalogue";
import { h, errorText } from "./dom";
import { type GalaxyDetail } from "./galaxy";
import { type JobView } from "./progress";

function base64OfIds(ids: Uint32Array): string {
  const bytes = new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

export function selectionForm(cat: Catalogue, selectedRows: () => Uint32Array): HTMLElement {
  const propSel = h("select", { id: "cf-property" });
  const kindSel = h("select", { id: "cf-kind" },
    h("option", { value: "factor" }, "× factor"),
    h("option", { value: "shift" }, "+ shift"),
    h("option", { value: "value" }, "= value"));
  const amount = h("input", { id: "cf-amount", type: "number", step: "any", value: "2", required: true, size: 6 });
  const sample = h("input", { id: "cf-sample", type: "number", min: 1, max: 1024, value: "64", size: 5 });
  const shared = h("input", { id: "cf-shared", type: "checkbox" });
  const submit = h("button", { type: "submit", id: "cf-submit", disabled: true }, "Run on selection");
  const msg = h("p", { class: "hint", role: "status", id: "cf-message" });
  const form = h("form", { class: "cf-form", "aria-labelledby": "cf-title" },
    h("h2", { id: "cf-title" }, "What if, for the selection?"),
    h("div", { class: "row" }, h("label", { for: "cf-property" }, "Property"), propSel),
    h("div", { class: "row" }, h("label", { for: "cf-kind" }, "Change"), kindSel, h("label", { for: "cf-amount", class: "sr-only" }, "amount"), amount),
    h("div", { class: "row" }, h("label", { for: "cf-sample" }, "Galaxies modelled"), sample,
      h("label", { for: "cf-shared" }, shared, " shared")),
    submit, msg);

  void (async () => {
    try {
      const detail = await getJSON<GalaxyDetail>(
        `/v1/explorer/galaxy?catalogue=${encodeURIComponent(cat.name)}&id=${cat.ids[0]}`);
      propSel.replaceChildren(...detail.intervenable.map((p) =>
        h("option", { value: p.name }, `${p.name}${p.unit ? ` [${p.unit}]` : ""}`)));
      const mass = detail.intervenable.find((p) => p.name === "log_stellar_mass");
      if (mass) propSel.value = mass.name;
      submit.disabled = false;
    } catch (e) {
      msg.textContent = `Interventions unavailable: ${errorText(e)}`;
    }
  })();

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const rows = selectedRows();
    if (rows.length === 0) {
      msg.textContent = "Brush a region first: the selection is empty.";
      return;
    }
    const ids = new Uint32Array(rows.length);
    for (let i = 0; i < rows.length; i++) ids[i] = cat.ids[rows[i]];
    submit.disabled = true;
    msg.textContent = `Submitting ${ids.length.toLocaleString()} galaxies…`;
    try {
      const job = await postJSON<JobView>("/v1/explorer/selection/counterfactual", {
        catalogue: cat.name,
        ids_b64: base64OfIds(ids),
        intervention: { property: propSel.value, [kindSel.value]: Number(amount.value) },
        sample_size: Number(sample.value),
        seed: 0,
        shared: shared.checked,
      });
      location.hash = `#/selection?job=${encodeURIComponent(job.job_id)}`;
    } catch (e) {
      msg.textContent = `Refused: ${errorText(e)}`;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
