// The alert banner: WS /v1/alerts pushes a snapshot of active system-wide warnings, then
// each alert as it starts and a "cleared" message as it ends; reconnects with backoff.

import { refresh, socketURL } from "./api";
import { h } from "./dom";
import { ReconnectingSocket } from "./socket";

interface Alert { kind: string; level: string; message: string; value?: number; threshold?: number; since?: string }

export function startAlerts(box: HTMLElement): ReconnectingSocket {
  const active = new Map<string, Alert>();
  const dismissed = new Set<string>();
  const render = () => {
    box.replaceChildren(...[...active.values()].filter((a) => !dismissed.has(a.kind + a.since)).map((a) =>
      h("div", { class: `alert ${a.level}`, role: "alert", "data-kind": a.kind },
        h("strong", {}, a.level.toUpperCase()), " ", a.message,
        h("button", { type: "button", "aria-label": `dismiss ${a.kind} alert`, onclick: () => { dismissed.add(a.kind + a.since); render(); } }, "×"))));
  };
  return new ReconnectingSocket(socketURL("/v1/alerts"), {
    onUnauthorized: refresh,
    onMessage: (msg) => {
      const m = msg as { type: string; alerts?: Alert[]; alert?: Alert; kind?: string };
      if (m.type === "snapshot") {
        active.clear();
        for (const a of m.alerts ?? []) active.set(a.kind, a);
      } else if (m.type === "alert" && m.alert) {
        active.set(m.alert.kind, m.alert);
      } else if (m.type === "cleared" && m.kind) {
        active.delete(m.kind);
      }
      render();
    },
  });
}
