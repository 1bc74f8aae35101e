// Calendar quota periods (a day, a month) in an IANA time zone: the period starts at local midnight (of the 1st
// for a month), whatever the UTC offset, DST included. Pure; `Intl.DateTimeFormat` supplies the zone rules.
export type CalendarPeriod = 'day' | 'month';

export interface PeriodBounds {
  startMs: number;
  endMs: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `timeZone` is an IANA zone name this runtime knows (config validation). */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

interface WallTime {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function wallTime(ms: number, timeZone: string): WallTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour!,
    minute: parts.minute!,
    second: parts.second!,
  };
}

/** The zone's offset from UTC at instant `ms` (ms, positive east of Greenwich), to the second. */
function offsetAt(ms: number, timeZone: string): number {
  const w = wallTime(ms, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/**
 * The UTC instant of local wall time `y-m-d 00:00` in the zone. Two rounds of offset correction settle DST
 * changes; where midnight does not exist (a zone that springs forward at 00:00) it returns the first instant
 * of that local day.
 */
export function localMidnight(year: number, month: number, day: number, timeZone: string): number {
  const naive = Date.UTC(year, month - 1, day);
  let guess = naive - offsetAt(naive, timeZone);
  guess = naive - offsetAt(guess, timeZone);
  const w = wallTime(guess, timeZone);
  if (w.day !== new Date(naive).getUTCDate()) {
    // Midnight was skipped: the day began at the transition, one offset change later.
    guess = naive - offsetAt(guess + 3 * 3600_000, timeZone);
  }
  return guess;
}

/** The calendar period containing instant `ms` in `timeZone`. */
export function periodBounds(ms: number, period: CalendarPeriod, timeZone: string): PeriodBounds {
  const w = wallTime(ms, timeZone);
  if (period === 'day') {
    const next = new Date(Date.UTC(w.year, w.month - 1, w.day + 1));
    return {
      startMs: localMidnight(w.year, w.month, w.day, timeZone),
      endMs: localMidnight(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), timeZone),
    };
  }
  const nextYear = w.month === 12 ? w.year + 1 : w.year;
  const nextMonth = w.month === 12 ? 1 : w.month + 1;
  return {
    startMs: localMidnight(w.year, w.month, 1, timeZone),
    endMs: localMidnight(nextYear, nextMonth, 1, timeZone),
  };
}

/** Nominal length of a period for `RateLimit-Policy` (`w`): a day is 86400 s; a month is the current month's length. */
export function periodSeconds(bounds: PeriodBounds): number {
  return Math.round((bounds.endMs - bounds.startMs) / 1000);
}
