// A WebSocket that reconnects with exponential backoff (with jitter) until closed on
// purpose or refused for good (close codes 4401/4403/4404: no retry would help).

export interface SocketOptions {
  onMessage: (data: unknown) => void;
  onStatus?: (status: "connecting" | "open" | "retrying" | "closed", detail?: string) => void;
  shouldReconnect?: () => boolean;
  /** On 4401 (the access cookie expired): renew the session; true to reconnect at once. */
  onUnauthorized?: () => Promise<boolean>;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

const FINAL_CODES = new Set([4401, 4403, 4404]);

export class ReconnectingSocket {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private timer: number | undefined;
  private stopped = false;
  private renewed = false;
  reconnects = 0;

  constructor(
    readonly url: string,
    readonly opts: SocketOptions,
  ) {
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    this.opts.onStatus?.(this.attempt === 0 ? "connecting" : "retrying");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.renewed = false;
      this.opts.onStatus?.("open");
    };
    ws.onmessage = (ev) => {
      try {
        this.opts.onMessage(JSON.parse(String(ev.data)));
      } catch {
        // a message that is not JSON is not ours
      }
    };
    ws.onclose = (ev) => {
      this.ws = null;
      if (this.stopped) return;
      if (ev.code === 4401 && this.opts.onUnauthorized && !this.renewed) {
        this.renewed = true; // once per successful connection, so a refused renewal ends it
        void this.opts.onUnauthorized().then((ok) => {
          if (ok) this.connect();
          else this.opts.onStatus?.("closed", ev.reason || "not signed in");
        });
        return;
      }
      const again = !FINAL_CODES.has(ev.code) && (this.opts.shouldReconnect?.() ?? true);
      if (!again) {
        this.opts.onStatus?.("closed", ev.reason || `closed (${ev.code})`);
        return;
      }
      const base = this.opts.baseDelayMs ?? 500;
      const max = this.opts.maxDelayMs ?? 15_000;
      const delay = Math.min(max, base * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
      this.attempt++;
      this.reconnects++;
      this.opts.onStatus?.("retrying", `reconnecting in ${(delay / 1000).toFixed(1)} s`);
      this.timer = window.setTimeout(() => this.connect(), delay);
    };
  }

  close(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
    this.ws?.close();
  }
}
