/**
 * Times on the venue's clock: one `Intl.DateTimeFormat` per zone and style, built once (building
 * one costs more than formatting with it a thousand times).
 */
const STYLES = {
  /** `12:01` */
  clock: ['ru-RU', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }],
  /** `2026-12-02` */
  day: ['en-CA', { year: 'numeric', month: '2-digit', day: '2-digit' }],
  /** `2026-12-02 12:01:30` */
  dateTime: [
    'sv-SE',
    {
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    },
  ],
} as const satisfies Record<string, readonly [string, Intl.DateTimeFormatOptions]>;

const formats = new Map<string, Intl.DateTimeFormat>();

export function zoneFormat(timeZone: string, style: keyof typeof STYLES): Intl.DateTimeFormat {
  const key = `${style}|${timeZone}`;
  let fmt = formats.get(key);
  if (!fmt) {
    const [locale, options] = STYLES[style];
    fmt = new Intl.DateTimeFormat(locale, { ...options, timeZone });
    formats.set(key, fmt);
  }
  return fmt;
}

/**
 * ISO UTC text of a time, remembering the last one: the stamps of one transition, or of one
 * batch's outcomes, mostly share a millisecond, and `toISOString` is not free.
 */
export function isoStamper(): (ms: number) => string {
  let last = { ms: NaN, text: '' };
  return (ms) => {
    if (ms !== last.ms) last = { ms, text: new Date(ms).toISOString() };
    return last.text;
  };
}
