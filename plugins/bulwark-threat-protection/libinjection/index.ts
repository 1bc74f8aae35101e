// The libinjection-class detectors behind CRS's @detectSQLi (942100) and @detectXSS (941100) rules.
import type { Detectors } from '../crs/engine';
import { detectSqli } from './sqli';
import { detectXss } from './xss';

export { detectSqli, detectXss };

export const LIBINJECTION_DETECTORS: Detectors = { sqli: detectSqli, xss: detectXss };
