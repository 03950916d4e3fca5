// A job's progress, live: QUEUED -> PROCESSING -> PHYSICS_CHECK -> COMPLETE (or FAILED)
// from WS /v1/jobs/{id}/progress (the session cookie authenticates it), reconnecting
// with backoff while the job is not finished; a stepper shows where it is.

import { getJSON, refresh, socketURL } from "./api";
import { h } from "./dom";
import { ReconnectingSocket } from "./socket";

export const STATES = ["QUEUED", "PROCESSING", "PHYSICS_CHECK", "COMPLETE"] as const;

export interface JobView {
  job_id: string;
  request_id: string;
  state: string;
  owner: string | null;
  shared: boolean;
  created_at?: string | null;
  updated_at?: string | null;
  result?: unknown;
  error?: { code: string; message: string; trace_id?: string | null } | null;
}

export class JobProgress {
  readonly el: HTMLElement;
  private steps = new Map<string, HTMLElement>();
  private note: HTMLElement;
  private socket: ReconnectingSocket | null = null;
  private finished = false;
  state = "QUEUED";

  constructor(
    readonly jobId: string,
    private onFinal: (view: JobView) => void,
  ) {
    const list = h("ol", { class: "stepper", "aria-label": `progress of job ${jobId}` });
    for (const s of STATES) {
      const li = h("li", { "data-state": s }, s.replace("_", " "));
      this.steps.set(s, li);
      list.append(li);
    }
    this.note = h("p", { class: "hint", "aria-live": "polite" });
    this.el = h("div", { class: "progress", "data-job": jobId, "data-state": "QUEUED" }, list, this.note);
    this.connect();
  }

  private set(state: string): void {
    if (state !== this.state || !this.el.dataset.seen) {
      this.el.dataset.seen = [this.el.dataset.seen, state].filter(Boolean).join(" ");
    }
    this.state = state;
    this.el.dataset.state = state;
    const idx = STATES.indexOf(state as (typeof STATES)[number]);
    for (const [s, li] of this.steps) {
      const i = STATES.indexOf(s as (typeof STATES)[number]);
      li.className = state === "FAILED" ? (i <= Math.max(idx, 0) ? "failed" : "") : i < idx ? "done" : i === idx ? "current" : "";
      if (i === idx) li.setAttribute("aria-current", "step");
      else li.removeAttribute("aria-current");
    }
    if (state === "FAILED") this.note.textContent = "FAILED";
  }

  private connect(): void {
    this.socket = new ReconnectingSocket(socketURL(`/v1/jobs/${encodeURIComponent(this.jobId)}/progress`), {
      shouldReconnect: () => !this.finished,
      onUnauthorized: refresh,
      onStatus: (status, detail) => {
        this.el.dataset.socket = status;
        if (status === "retrying") this.note.textContent = `connection lost, ${detail ?? "reconnecting"}`;
        else if (status === "open") this.note.textContent = "";
        else if (status === "closed" && !this.finished) {
          this.note.textContent = `progress channel closed: ${detail ?? ""}`;
          void this.poll();
        }
      },
      onMessage: (msg) => {
        const m = msg as { state?: string; final?: boolean } & JobView;
        if (m.final) {
          this.finish(m);
        } else if (m.state) {
          this.set(m.state);
        }
      },
    });
  }

  private finish(view: JobView): void {
    if (this.finished) return;
    this.finished = true;
    this.set(view.state);
    if (view.error) this.note.textContent = `${view.error.code}: ${view.error.message}`;
    this.socket?.close();
    this.onFinal(view);
  }

  /** When the socket cannot be used, read the job's state instead. */
  private async poll(): Promise<void> {
    while (!this.finished) {
      try {
        const view = await getJSON<JobView>(`/v1/jobs/${encodeURIComponent(this.jobId)}`);
        this.set(view.state);
        if (view.state === "COMPLETE" || view.state === "FAILED") this.finish(view);
      } catch {
        // keep trying
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  close(): void {
    this.finished = true;
    this.socket?.close();
  }
}
