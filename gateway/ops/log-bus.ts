// The live log of each app: request summaries from the data plane and the lines its guests write,
// passed to whoever follows the app's logs (the admin API's SSE stream), and the last few kept for
// a quick look. Everything is bounded: a subscriber that reads too slowly loses records (and is told
// how many), and the recent records kept per app and the number of apps keeping them are capped.

export interface RequestRecord {
  type: "request";
  /** Milliseconds since the epoch (formatted on the way out, not per request). */
  time: number;
  requestId: string;
  app: string;
  tenant: string;
  method: string;
  path: string;
  status: number;
  ms: number;
}

export interface OutputRecord {
  type: "log";
  time: number;
  requestId: string;
  app: string;
  tenant: string;
  stream: "stdout" | "stderr";
  line: string;
}

export type LogRecord = RequestRecord | OutputRecord;

/** In place of records a subscriber lost because it read too slowly. */
export interface DroppedNotice {
  type: "dropped";
  count: number;
}

export interface Subscription {
  /** The next record, a notice of records dropped before it, or undefined once closed. */
  next(): Promise<LogRecord | DroppedNotice | undefined>;
  close(): void;
}

export interface LogBusLimits {
  /** Records kept per app for `recent`. */
  recentRecords: number;
  /** Characters of text kept per app for `recent` (lines longer than a tenth of it are cut). */
  recentChars: number;
  /** Apps with recent records kept; past it the app whose records were kept longest goes. */
  recentApps: number;
  /** Records (and characters) waiting for one subscriber before newer ones are dropped. */
  queueRecords: number;
  queueChars: number;
}

export const DEFAULT_LOG_BUS_LIMITS: LogBusLimits = {
  recentRecords: 100,
  recentChars: 32 * 1024,
  recentApps: 500,
  queueRecords: 1000,
  queueChars: 1024 * 1024,
};

const sizeOf = (r: LogRecord): number => (r.type === "log" ? r.line.length : r.path.length) + 100;

/**
 * An app's recent records, oldest first. A fixed circular array: pushing and shifting an array of
 * objects per request cost 10x as much (V8 trims the array's start in old space, about 0.5 us).
 */
class Ring {
  readonly #slots: (LogRecord | undefined)[];
  #start = 0;
  #size = 0;
  #chars = 0;

  constructor(capacity: number) {
    this.#slots = new Array(capacity).fill(undefined);
  }

  push(record: LogRecord, maxChars: number): void {
    const capacity = this.#slots.length;
    if (this.#size === capacity) this.#dropOldest();
    this.#slots[(this.#start + this.#size) % capacity] = record;
    this.#size++;
    this.#chars += sizeOf(record);
    while (this.#chars > maxChars && this.#size > 1) this.#dropOldest();
  }

  records(): LogRecord[] {
    const out: LogRecord[] = [];
    for (let i = 0; i < this.#size; i++) out.push(this.#slots[(this.#start + i) % this.#slots.length]!);
    return out;
  }

  #dropOldest(): void {
    const oldest = this.#slots[this.#start]!;
    this.#slots[this.#start] = undefined;
    this.#start = (this.#start + 1) % this.#slots.length;
    this.#size--;
    this.#chars -= sizeOf(oldest);
  }
}

class Subscriber implements Subscription {
  readonly #queue: LogRecord[] = [];
  #chars = 0;
  #dropped = 0;
  /** No more records will come; what is queued is still delivered. */
  #ended = false;
  /** The reader is gone. */
  #closed = false;
  #wake: (() => void) | undefined;
  readonly #limits: LogBusLimits;
  readonly #onDrop: () => void;
  readonly #onClose: () => void;
  readonly tenant: string;

  constructor(tenant: string, limits: LogBusLimits, onDrop: () => void, onClose: () => void) {
    this.tenant = tenant;
    this.#limits = limits;
    this.#onDrop = onDrop;
    this.#onClose = onClose;
  }

  offer(record: LogRecord): void {
    if (this.#closed || this.#ended) return;
    const size = sizeOf(record);
    // Once dropping, keep dropping until the reader has caught up, so the notice sits exactly
    // where the gap is.
    if (
      this.#dropped > 0 ||
      this.#queue.length >= this.#limits.queueRecords ||
      this.#chars + size > this.#limits.queueChars
    ) {
      this.#dropped++;
      this.#onDrop();
      return;
    }
    this.#queue.push(record);
    this.#chars += size;
    this.#wakeUp();
  }

  async next(): Promise<LogRecord | DroppedNotice | undefined> {
    for (;;) {
      if (this.#closed) return undefined;
      const record = this.#queue.shift();
      if (record) {
        this.#chars -= sizeOf(record);
        return record;
      }
      if (this.#dropped > 0) {
        const count = this.#dropped;
        this.#dropped = 0;
        return { type: "dropped", count };
      }
      if (this.#ended) {
        this.close();
        return undefined;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  /** Ends the subscription once the reader has had what is queued. */
  end(): void {
    this.#ended = true;
    this.#wakeUp();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#dropped = 0;
    this.#onClose();
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

export class LogBus {
  readonly #limits: LogBusLimits;
  readonly #recent = new Map<string, Ring>();
  readonly #subscribers = new Map<string, Set<Subscriber>>();
  #subscriberCount = 0;
  #closed = false;
  /** Records dropped for slow subscribers since start. */
  dropped = 0;

  constructor(limits: LogBusLimits = DEFAULT_LOG_BUS_LIMITS) {
    this.#limits = limits;
  }

  get subscribers(): number {
    return this.#subscriberCount;
  }

  publish(record: LogRecord): void {
    this.#keep(record);
    const subscribers = this.#subscribers.get(keyOf(record.tenant, record.app));
    if (!subscribers) return;
    for (const s of subscribers) s.offer(record);
  }

  /** The app's last records, oldest first. */
  recent(app: string, tenant: string): LogRecord[] {
    return this.#recent.get(keyOf(tenant, app))?.records() ?? [];
  }

  /** Follows the app's records from now on; after `close()` the subscription ends at once. */
  subscribe(app: string, tenant: string): Subscription {
    const key = keyOf(tenant, app);
    let set = this.#subscribers.get(key);
    const subscriber: Subscriber = new Subscriber(
      tenant,
      this.#limits,
      () => this.dropped++,
      () => {
        this.#subscriberCount--;
        set?.delete(subscriber);
        if (set?.size === 0 && this.#subscribers.get(key) === set) this.#subscribers.delete(key);
      },
    );
    this.#subscriberCount++;
    if (this.#closed) {
      subscriber.end();
      return subscriber;
    }
    if (!set) {
      set = new Set();
      this.#subscribers.set(key, set);
    }
    set.add(subscriber);
    return subscriber;
  }

  /**
   * Ends every subscription once its reader has had what is queued for it, and any made later (the
   * gateway is shutting down).
   */
  close(): void {
    this.#closed = true;
    for (const set of this.#subscribers.values()) for (const s of set) s.end();
  }

  #keep(record: LogRecord): void {
    const limits = this.#limits;
    const key = keyOf(record.tenant, record.app);
    let ring = this.#recent.get(key);
    if (!ring) {
      if (this.#recent.size >= limits.recentApps) {
        this.#recent.delete(this.#recent.keys().next().value!);
      }
      ring = new Ring(limits.recentRecords);
      this.#recent.set(key, ring);
    }
    const cut = Math.floor(limits.recentChars / 10);
    ring.push(
      record.type === "log" && record.line.length > cut
        ? { ...record, line: `${record.line.slice(0, cut)} [cut]` }
        : record,
      limits.recentChars,
    );
  }
}

/** Records are kept and followed per app, and an app is its tenant and name. */
function keyOf(tenant: string, app: string): string {
  return `${tenant}/${app}`;
}
