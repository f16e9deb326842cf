/**
 * What the operator hears of the WebSocket upgrades admission.ts refuses: each is counted
 * in chat_upgrades_refused_total{reason}, and logged as `upgrade refused` once per reason
 * and LOG_PERIOD_MS, with how many there were since the last line: a flood of refusals
 * (a reconnect storm against a stopping node, a scanner) must not become one line each.
 * The per-address ones are logged per address by the server instead (address-limits.ts).
 */
import { clipped, type Logger } from './log.js';
import type { Metrics, UpgradeRefusal } from './metrics.js';
import { PeriodicLog } from './periodic-log.js';
import { LOG_PERIOD_MS } from './socket-limits.js';

/** One refused upgrade. */
export interface Refusal {
  reason: UpgradeRefusal;
  /** The HTTP status it was answered with. */
  status: number;
  /** The client's address (client-address.ts). */
  ip: string;
  /** What the client sent that was refused: its `Origin`, its path, or ws's complaint about its handshake. */
  sent?: string;
}

/** Expected while a node starts or stops: a balancer still sending clients. Everything else may be a problem. */
const ROUTINE: ReadonlySet<UpgradeRefusal> = new Set(['starting', 'stopping']);

export class UpgradeRefusals {
  private readonly lines = new Map<UpgradeRefusal, PeriodicLog>();

  constructor(
    private readonly log: Logger,
    private readonly metrics: Pick<Metrics, 'upgradeRefused'>,
  ) {}

  refused({ reason, status, ip, sent }: Refusal): void {
    this.metrics.upgradeRefused(reason);
    if (reason.startsWith('address_')) return;
    let line = this.lines.get(reason);
    if (line === undefined) this.lines.set(reason, (line = new PeriodicLog(LOG_PERIOD_MS)));
    line.hit((count) => {
      const fields = { reason, status, ip, count, ...(sent === undefined ? {} : { sent: clipped(sent) }) };
      if (ROUTINE.has(reason)) this.log.info(fields, 'upgrade refused');
      else this.log.warn(fields, 'upgrade refused');
    });
  }
}
