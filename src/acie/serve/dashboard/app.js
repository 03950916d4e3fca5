// ACIE dashboard: plain JS against the REST API (no build step).
"use strict";

const $ = (id) => document.getElementById(id);
const token = () => sessionStorage.getItem("acie-token") || "";
const authHeaders = () => (token() ? { Authorization: "Bearer " + token() } : {});

async function api(path, options = {}) {
  const resp = await fetch(path, { ...options, headers: { "Content-Type": "application/json", ...authHeaders(), ...(options.headers || {}) } });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const err = body.error || {};
    throw new Error(`${resp.status} ${err.code || ""}: ${err.message || resp.statusText}`);
  }
  return body;
}

async function refreshHealth() {
  try {
    const resp = await fetch("/healthz");
    const h = await resp.json();
    $("health").textContent = h.status;
    $("health").className = "pill " + (h.status === "SERVING" ? "ok" : "bad");
    $("h-status").textContent = h.status;
    $("h-model").textContent = h.model_version;
    $("h-queue").textContent = h.queue_depth;
    $("h-gpu").textContent = h.gpu_count;
  } catch (e) {
    $("health").textContent = "unreachable";
    $("health").className = "pill bad";
  }
}

async function refreshModels() {
  if (!token()) return;
  try {
    const m = await api("/v1/models");
    const sel = $("iv-name");
    sel.innerHTML = "";
    for (const name of m.models[0].property_names) {
      const o = document.createElement("option");
      o.value = o.textContent = name;
      sel.appendChild(o);
    }
  } catch (e) { $("token-state").textContent = e.message; }
}

const fmt = (xs) => (xs && xs.length ? Math.max(...xs).toFixed(4) : "");

async function refreshJobs() {
  if (!token()) return;
  try {
    const { jobs } = await api("/v1/jobs?limit=20");
    const tbody = $("jobs").querySelector("tbody");
    tbody.innerHTML = "";
    for (const j of jobs) {
      const tr = document.createElement("tr");
      const cells = [j.job_id.slice(0, 8), j.request_id, j.owner || "", j.state, (j.updated_at || "").replace("T", " ").slice(0, 19),
        j.result ? fmt(j.result.violation_score) : (j.error ? j.error.code : ""), j.result ? fmt(j.result.confidence) : ""];
      for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
      tbody.appendChild(tr);
    }
  } catch (e) { $("token-state").textContent = e.message; }
}

// Minimal .npy reader: little-endian float32, C order.
async function readNpy(file) {
  const buf = await file.arrayBuffer();
  const bytes = new Uint8Array(buf);
  const major = bytes[6];
  const hlen = major >= 2 ? new DataView(buf).getUint32(8, true) : new DataView(buf).getUint16(8, true);
  const hstart = major >= 2 ? 12 : 10;
  const header = new TextDecoder().decode(bytes.slice(hstart, hstart + hlen));
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header)) throw new Error("the .npy must be little-endian float32 in C order");
  let shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  if (shape.length === 3) shape = [1, ...shape];
  const data = bytes.slice(hstart + hlen);
  let bin = "";
  for (let i = 0; i < data.length; i += 0x8000) bin += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
  return { shape, dtype: "float32", data: btoa(bin) };
}

async function submitJob(ev) {
  ev.preventDefault();
  const log = $("progress");
  log.textContent = "";
  try {
    const file = $("npy").files[0];
    const observation = file ? await readNpy(file) : JSON.parse($("obs").value);
    const body = {
      request_id: "dash-" + Date.now().toString(36),
      observation,
      interventions: { [$("iv-name").value]: Number($("iv-value").value) },
      shared: $("shared").checked,
    };
    const job = await api("/v1/jobs", { method: "POST", body: JSON.stringify(body) });
    log.textContent += `job ${job.job_id} ${job.state}\n`;
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}/v1/jobs/${job.job_id}/progress?access_token=${encodeURIComponent(token())}`);
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.final) {
        log.textContent += msg.result ? `violation ${fmt(msg.result.violation_score)}, confidence ${fmt(msg.result.confidence)}, ${msg.result.latency_ms.toFixed(1)} ms\n`
          : `error ${msg.error.code}: ${msg.error.message}\n`;
        refreshJobs();
      } else {
        log.textContent += `${msg.state}\n`;
      }
    };
    ws.onclose = (c) => { if (c.code >= 4000) log.textContent += `closed: ${c.reason}\n`; };
  } catch (e) {
    log.textContent += e.message + "\n";
  }
}

$("save-token").onclick = () => {
  sessionStorage.setItem("acie-token", $("token").value.trim());
  $("token").value = "";
  $("token-state").textContent = "token set";
  refreshModels(); refreshJobs();
};
$("cf-form").onsubmit = submitJob;
refreshHealth(); refreshModels(); refreshJobs();
setInterval(refreshHealth, 5000);
setInterval(refreshJobs, 5000);
