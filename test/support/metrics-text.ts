/**
 * Reads Prometheus text exposition into `series -> value`, series spelled as exposed:
 * `chat_errors_total{code="name_taken"}`, or the bare name for a metric without labels.
 */
export type Samples = Map<string, number>;

export function parseMetrics(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** The value of one series; throws (naming it) when the series is not exposed at all. */
export function sample(samples: Samples, series: string): number {
  const value = samples.get(series);
  if (value === undefined) throw new Error(`metric series ${series} is not exposed`);
  return value;
}
