/**
 * What the kernel says a process has used, from /proc/PID/stat: CPU time (user + system,
 * every thread) and resident memory. Read from outside, so neither server measures itself.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const TICKS_PER_SEC = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const PAGE_BYTES = Number(execFileSync('getconf', ['PAGESIZE']).toString().trim()) || 4096;

export interface ProcSample {
  /** User + system CPU time in µs. */
  cpuUs: number;
  /** The system (kernel) part of it: system calls, and on loopback much of TCP itself. */
  systemUs: number;
  rssBytes: number;
}

export function readProc(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after its ')' are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]); // field 14
  const stime = Number(fields[12]); // field 15
  const rssPages = Number(fields[21]); // field 24
  return {
    cpuUs: ((utime + stime) * 1e6) / TICKS_PER_SEC,
    systemUs: (stime * 1e6) / TICKS_PER_SEC,
    rssBytes: rssPages * PAGE_BYTES,
  };
}

/** Total CPU of several processes (the load clients). */
export function cpuOf(pids: readonly number[]): { cpuUs: number; systemUs: number } {
  const total = { cpuUs: 0, systemUs: 0 };
  for (const pid of pids) {
    const { cpuUs, systemUs } = readProc(pid);
    total.cpuUs += cpuUs;
    total.systemUs += systemUs;
  }
  return total;
}

/** The open-files limit of this process; every child inherits it. */
export function openFilesLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const line = limits.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === undefined || soft === 'unlimited' ? Infinity : Number(soft);
}
